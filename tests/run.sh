#!/usr/bin/env bash
# The whole test suite: unit tests, then black-box tests that drive the
# cairn binary on throw-away workspaces. Ends with "N passed, N failed".
#   tests/run.sh [FILTER]   only tests whose name contains FILTER
#   CAIRN=/path/to/cairn tests/run.sh   the black-box tests against another binary
#   (CAIRN_HOOKS: the binary with fault-injection hooks, `make cairn-hooks`)
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
export CAIRN="${CAIRN:-$top/cairn}" CAIRN_HOOKS="${CAIRN_HOOKS:-$top/cairn-hooks}" TESTS="$top/tests"
filter=${1:-}
pass=0 fail=0 failed=()
tmp=$(mktemp -d "${TMPDIR:-/tmp}/cairn-tests.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# Unit tests: one line per test, "ok   unit/NAME" or "FAIL unit/NAME".
if [ -x "$top/build/tests/unit/run" ]; then
	"$top/build/tests/unit/run" $filter >"$tmp/unit.log" 2>&1
	while read -r st name; do
		case $st in
		ok) pass=$((pass + 1)) ;;
		FAIL) fail=$((fail + 1)); failed+=("$name") ;;
		esac
	done < <(grep -E '^(ok|FAIL) ' "$tmp/unit.log")
	grep -q ' passed, ' "$tmp/unit.log" || { fail=$((fail + 1)); failed+=("unit/(crashed)"); }
	grep -E '^(FAIL|  )' "$tmp/unit.log" | head -50
else
	echo "missing build/tests/unit/run (make unit)"; fail=$((fail + 1))
fi

# Black-box tests: every function test_* in tests/bb/*.sh, each run in a
# fresh bash with -e, in its own directory and cache.
for file in "$TESTS"/bb/*.sh; do
	for fn in $(grep -oE '^test_[a-z0-9_]+' "$file"); do
		name="bb/$(basename "$file" .sh)/${fn#test_}"
		case $name in *"$filter"*) ;; *) continue ;; esac
		dir="$tmp/$(basename "$file" .sh)/$fn" # two files may share a test name
		mkdir -p "$dir/ws" "$dir/home"
		if (cd "$dir/ws" && HOME="$dir/home" XDG_CACHE_HOME="$dir/home/cache" \
			timeout 300 bash -e -u -o pipefail -c \
			'exec 9>>"$3"; BASH_XTRACEFD=9; source "$TESTS/bb/lib.sh"; source "$1"; set -x; "$2"' \
			_ "$file" "$fn" "$dir/log") >>"$dir/log" 2>&1; then
			pass=$((pass + 1)); echo "ok   $name"
		else
			fail=$((fail + 1)); failed+=("$name"); echo "FAIL $name"
			tail -n 40 "$dir/log" | sed 's/^/    /'
		fi
	done
done

[ ${#failed[@]} -gt 0 ] && printf 'failed: %s\n' "${failed[*]}"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
