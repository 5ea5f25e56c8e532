# Helpers for black-box tests. Each test runs in an empty directory (the
# cwd) with its own HOME and XDG_CACHE_HOME, under bash -e.

cairn() { "$CAIRN" "$@"; }
# cairn_hooks: cairn with its fault-injection hooks (src/util/hook.h).
cairn_hooks() { "$CAIRN_HOOKS" "$@"; }

# ws: make the cwd a workspace (WORKSPACE.lua).
ws() { : > WORKSPACE.lua; }

# write PATH: write stdin to PATH, making directories.
write() { mkdir -p "$(dirname "$1")"; cat > "$1"; }

# run CODE CMD...: run CMD, keep its stdout+stderr in $out, expect CODE.
run() {
	local want=$1; shift
	set +e
	out=$("$@" 2>&1)
	local got=$?
	set -e
	if [ "$got" != "$want" ]; then
		printf 'expected exit %s, got %s from: %s\n%s\n' "$want" "$got" "$*" "$out" >&2
		return 1
	fi
}

# has STRING: $out contains STRING.
has() {
	case $out in *"$1"*) return 0 ;; esac
	printf 'output lacks: %s\n--- output:\n%s\n' "$1" "$out" >&2
	return 1
}

# lacks STRING: $out does not contain STRING.
lacks() {
	case $out in *"$1"*) printf 'output has: %s\n--- output:\n%s\n' "$1" "$out" >&2; return 1 ;; esac
}

# fails CMD...: CMD exits non-zero. (Under bash -e a "! CMD" in the middle
# of a test asserts nothing: the shell ignores -e for a negated command.)
fails() {
	if "$@"; then
		printf 'expected a failure from: %s\n' "$*" >&2
		return 1
	fi
}

# summary E C F [H]: the last line says E executed, C cached, F failed
# (with H: C cached, H of them from a remote cache).
summary() {
	local last cached=$2
	[ $# -lt 4 ] || cached="$2 cached ($4 remote)"
	[ $# -ge 4 ] || cached="$2 cached"
	last=$(printf '%s\n' "$out" | tail -n 1)
	case $last in
	"cairn: "*" actions: $1 executed, $cached, $3 failed in "*" s") return 0 ;;
	esac
	printf 'summary wanted %s executed, %s, %s failed; got: %s\n' "$1" "$cached" "$3" "$last" >&2
	return 1
}

# golden NAME: $out equals tests/golden/NAME.txt (UPDATE_GOLDEN=1 rewrites).
golden() {
	local f="$TESTS/golden/$1.txt"
	if [ -n "${UPDATE_GOLDEN:-}" ]; then printf '%s\n' "$out" > "$f"; return 0; fi
	if [ ! -f "$f" ]; then echo "missing golden file $f" >&2; return 1; fi
	diff -u "$f" <(printf '%s\n' "$out") >&2
}

# eq A B: A equals B.
eq() { [ "$1" = "$2" ] || { printf 'expected [%s], got [%s]\n' "$2" "$1" >&2; return 1; }; }

# tree_sum DIR: one line per file: path and sha256, sorted.
tree_sum() { (cd "$1" && find . -type f -print0 | sort -z | xargs -0 -r sha256sum); }

# row NAME STATUS: the test table in $out has NAME with STATUS.
row() {
	printf '%s\n' "$out" | grep -qE "^  $(printf '%s' "$1" | sed 's/[][().*^$/]/\\&/g') +$2( |\$)" && return 0
	printf 'no test row %s %s in:\n%s\n' "$1" "$2" "$out" >&2
	return 1
}
