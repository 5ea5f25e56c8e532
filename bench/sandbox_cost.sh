#!/usr/bin/env bash
# The sandbox's cost per action: 300 tiny actions (genrule "echo N > $@"),
# each build with an empty cache and no cairn-out, `cairn build -j2`
# sandboxed against `--sandbox=none`. Binaries take turns run by run, so
# drift on the machine falls on all alike; prints medians of the wall
# time and of the CPU time (user + system, cairn and its actions: steadier
# than the wall time on a busy machine).
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
declare -A t c
for r in $(seq "$runs"); do
	for bin in "$@"; do
		for mode in strict none; do
			rm -rf "$ws/cairn-out" "$ws/.cairn" "$ws/cache"
			s=$(date +%s%N)
			(cd "$ws" && /usr/bin/time -f '%U %S' -o "$ws/cpu" \
				"$bin" build -j2 --sandbox=$mode --cache-dir "$ws/cache" >/dev/null)
			e=$(date +%s%N)
			t[$bin,$mode]+="$(( (e - s) / 1000 )) "
			c[$bin,$mode]+="$(awk '{printf "%d", ($1 + $2) * 1000000}' "$ws/cpu") "
		done
	done
done
median() { tr ' ' '\n' | grep . | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
echo "$(uname -srm), $(nproc) cores; $actions actions, $runs runs, medians"
printf '%-32s %11s %11s %11s %11s %11s %11s\n' binary "wall sbx" "wall none" "wall/act" \
	"cpu sbx" "cpu none" "cpu/act"
for bin in "$@"; do
	s=$(echo "${t[$bin,strict]}" | median)
	n=$(echo "${t[$bin,none]}" | median)
	cs=$(echo "${c[$bin,strict]}" | median)
	cn=$(echo "${c[$bin,none]}" | median)
	printf '%-32s %9.3f s %9.3f s %8.3f ms %9.3f s %9.3f s %8.3f ms\n' "$bin" \
		"$(echo "$s/1000000" | bc -l)" "$(echo "$n/1000000" | bc -l)" \
		"$(echo "($s-$n)/1000/$actions" | bc -l)" \
		"$(echo "$cs/1000000" | bc -l)" "$(echo "$cn/1000000" | bc -l)" \
		"$(echo "($cs-$cn)/1000/$actions" | bc -l)"
done
