#!/usr/bin/env bash
# The sandbox's cost per action: 300 tiny actions (genrule "echo N > $@"),
# each build with an empty cache and no cairn-out, `cairn build -j2`
# sandboxed against `--sandbox=none`. Binaries take turns run by run, so
# drift on the machine falls on all alike; prints medians.
#
#   bench/sandbox_cost.sh [--runs N] [--actions N] CAIRN [CAIRN...]
set -euo pipefail
runs=7 actions=300
while [ $# -gt 0 ]; do
	case $1 in
	--runs) runs=$2; shift 2 ;;
	--actions) actions=$2; shift 2 ;;
	*) break ;;
	esac
done
[ $# -gt 0 ] || { sed -n '2,/^set -e/{/^#/s/^# \{0,1\}//p}' "$0" >&2; exit 2; }
ws=$(mktemp -d "${TMPDIR:-/tmp}/cairn-sbcost.XXXXXX")
trap 'rm -rf "$ws"' EXIT
: > "$ws/WORKSPACE.lua"
for i in $(seq "$actions"); do
	printf 'genrule { name = "g%d", outs = { "g%d.txt" }, cmd = "echo %d > $@" }\n' "$i" "$i" "$i"
done > "$ws/BUILD.lua"
declare -A t
for r in $(seq "$runs"); do
	for bin in "$@"; do
		for mode in strict none; do
			rm -rf "$ws/cairn-out" "$ws/.cairn" "$ws/cache"
			s=$(date +%s%N)
			(cd "$ws" && "$bin" build -j2 --sandbox=$mode --cache-dir "$ws/cache" >/dev/null)
			e=$(date +%s%N)
			t[$bin,$mode]+="$(( (e - s) / 1000 )) "
		done
	done
done
median() { tr ' ' '\n' | grep . | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
echo "$(uname -srm), $(nproc) cores; $actions actions, $runs runs, medians"
printf '%-40s %12s %12s %14s\n' binary sandboxed none "per action"
for bin in "$@"; do
	s=$(echo "${t[$bin,strict]}" | median)
	n=$(echo "${t[$bin,none]}" | median)
	printf '%-40s %10.3f s %10.3f s %11.3f ms\n' "$bin" "$(echo "$s/1000000" | bc -l)" \
		"$(echo "$n/1000000" | bc -l)" "$(echo "($s-$n)/1000/$actions" | bc -l)"
done
