# Workspaces and checks shared by the remote tests (tests/bb/remote_*.sh):
#   source "$TESTS/peers/remote_checks.sh"

# A small graph in the cwd: two genrules in a chain, one output executable.
two_rules() {
	ws
	mkdir -p a
	echo hello > a/in.txt
	write a/BUILD.lua <<'L'
genrule { name = "gen", srcs = { "in.txt" }, outs = { "gen.txt" }, cmd = "cat $< > $@; echo gen >> $@" }
genrule { name = "tool", srcs = { ":gen" }, outs = { "tool.sh" }, cmd = "(echo '#!/bin/sh'; sed 's/^/echo /' $<) > $@; chmod +x $@" }
L
}

# two_rules_right: two_rules' outputs are what they should be.
two_rules_right() {
	eq "$(cat cairn-out/a/gen.txt)" "$(printf 'hello\ngen')"
	test -x cairn-out/a/tool.sh
	eq "$(sh cairn-out/a/tool.sh)" "$(printf 'hello\ngen')"
}

# fresh DIR: a copy of the workspace in DIR with an empty local cache of
# its own (XDG_CACHE_HOME=DIR.cache) and no state; cd there.
fresh() {
	mkdir -p "$1"
	cp WORKSPACE.lua "$1"/
	cp -r a "$1"/
	export XDG_CACHE_HOME=$PWD/$1.cache
	cd "$1"
}

# cas_sound: every blob in the local cache hashes to its name.
cas_sound() {
	local f n=0
	for f in $(find "$XDG_CACHE_HOME/cairn/cas" -type f 2>/dev/null); do
		local name=${f##*/}
		eq "$(sha256sum < "$f" | cut -d' ' -f1)" "${name%.x}"
		n=$((n + 1))
	done
	echo "$n local blobs, all sound"
}

# warnings N: $out has N remote warnings (cache or executor).
warnings() { eq "$(printf '%s\n' "$out" | grep -c '^cairn: warning: remote ')" "$1"; }

# remote_summary E C H F: the last line's counts, with H remote hits.
remote_summary() { summary "$1" "$2" "$4" "$3"; }

# exec_summary E R C H F: with an executor: E executed (R of them
# remotely), C cached (H from the remote), F failed.
exec_summary() {
	local last
	last=$(printf '%s\n' "$out" | tail -n 1)
	case $last in
	"cairn: "*" actions: $1 executed ($2 remote), $3 cached ($4 remote), $5 failed in "*" s") return 0 ;;
	esac
	printf 'summary wanted %s executed (%s remote), %s cached (%s remote), %s failed; got: %s\n' \
		"$@" "$last" >&2
	return 1
}

# summary_ok: the build succeeded, everything executed or cached.
summary_ok() { printf '%s\n' "$out" | tail -n 1 | grep -q ' 0 failed in '; }

# where EVENTS: each action's label and where its result came from,
# one "LABEL WHERE" a line, sorted.
where() {
	python3 -c '
import json, sys
for l in open(sys.argv[1]):
    e = json.loads(l)
    if e["type"] == "action":
        print(e["label"], e["where"])' "$1" | sort
}

# final EVENTS KEY: the summary line's KEY.
final() {
	python3 -c '
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1])]
print(ev[-1][sys.argv[2]])' "$1" "$2"
}
