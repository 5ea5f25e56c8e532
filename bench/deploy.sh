#!/bin/bash
# bench/deploy.sh: the deployment rows of issue 13, in one run.
#
#   bench/deploy.sh [--cairn PATH] [--runs N] [--stages N] [--out FILE]
#
# A throw-away workspace with one deployment of --stages stages (50) on
# the dir provider, deployed once; then, each --runs times (21):
#   - a no-op `cairn deploy` (build, change set, every stage unchanged);
#   - `cairn status` over every stage (the provider asked for each);
#   - `cairn rollback --stage` of one stage, alternating between two
#     releases;
#   - the provider's own work for that rollback, done by a shell: a
#     symlink made and renamed over current (the releases are in the
#     stage already), the floor no deploy tool goes below.
# Medians, min and max in ms, by measure.py, with the machine line.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cairn=$here/../cairn runs=21 stages=50 out=
while [ $# -gt 0 ]; do
	case $1 in
	--cairn) cairn=$2; shift 2 ;;
	--runs) runs=$2; shift 2 ;;
	--stages) stages=$2; shift 2 ;;
	--out) out=$2; shift 2 ;;
	*) echo "usage: $0 [--cairn PATH] [--runs N] [--stages N] [--out FILE]" >&2; exit 2 ;;
	esac
done
cairn=$(cd "$(dirname "$cairn")" && pwd)/$(basename "$cairn")
[ -z "$out" ] || case $out in /*) ;; *) out=$PWD/$out ;; esac
tmp=$(mktemp -d /tmp/cairn-deploy-bench.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
ws=$tmp/ws
mkdir -p "$ws/web"
: > "$ws/WORKSPACE.lua"
export XDG_CACHE_HOME=$tmp/cache HOME=$tmp
{
	echo 'genrule { name = "server", outs = { "server.sh" }, cmd = "echo v1 > $@" }'
	echo 'genrule { name = "conf", outs = { "app.conf" }, cmd = "echo port=1 > $@" }'
	echo 'deployment {'
	echo '  name = "web", artifacts = { ":server", ":conf" }, provider = "dir",'
	echo '  canary = 1, max_parallel = 10,'
	echo '  stages = {'
	for i in $(seq 1 "$stages"); do echo "    { name = \"s$i\", path = \"$tmp/stages/s$i\" },"; done
	echo '  },'
	echo '}'
} > "$ws/web/BUILD.lua"
cd "$ws"
"$cairn" deploy //web:web > /dev/null
rel1=$(readlink "$tmp/stages/s1/current")
sed -i 's/echo v1/echo v2/' web/BUILD.lua
"$cairn" deploy //web:web > /dev/null
rel2=$(readlink "$tmp/stages/s1/current")
sed -i 's/echo v2/echo v1/' web/BUILD.lua
"$cairn" deploy //web:web > /dev/null # back at rel1 everywhere: the no-op below is one

# measure NAME CMD...: median, min and max wall time in ms of runs runs
measure() {
	local name=$1; shift
	python3 "$here/measure.py" -n "$runs" --rss none -- "$@" | python3 -c '
import sys, statistics
t = [float(l.split()[0]) * 1000 for l in sys.stdin]
bad = ""
print("| %s | %.1f ms (%.1f–%.1f) |" % (sys.argv[1], statistics.median(t), min(t), max(t)))
' "$name"
}

# the rollback alternates between the two releases, so each run moves s7
cat > "$tmp/flip.sh" <<FLIP
#!/bin/sh
cd "$ws"
if [ "\$(readlink $tmp/stages/s7/current)" = "$rel1" ]; then to=${rel2#releases/}; else to=${rel1#releases/}; fi
exec "$cairn" rollback //web:web --stage s7 --to "\$to" > /dev/null
FLIP
# the provider's own work, by hand: as for cairn, both releases are in
# the stage already (a rollback goes to one it had); switch the link
mkdir -p "$tmp/hand/releases"
cp -r "$tmp/stages/s1/$rel1" "$tmp/hand/releases/a"
cp -r "$tmp/stages/s1/$rel1" "$tmp/hand/releases/b"
cat > "$tmp/by_hand.sh" <<HAND
#!/bin/sh
d=$tmp/hand
if [ "\$(readlink "\$d/current" 2>/dev/null)" = releases/a ]; then to=b; else to=a; fi
ln -sfn "releases/\$to" "\$d/current.tmp"
mv -T "\$d/current.tmp" "\$d/current"
HAND
chmod +x "$tmp/flip.sh" "$tmp/by_hand.sh"

cpu=$(sed -n '/^model name/{s/^[^:]*:[[:space:]]*//p;q;}' /proc/cpuinfo 2>/dev/null || true)
report=$(
	echo "# cairn benchmark: deployments"
	echo
	echo "- machine: $(nproc) CPUs, ${cpu:-unknown CPU}, Linux $(uname -r)"
	echo "- tools: $("$cairn" --version); $(sh --version 2>/dev/null | head -1 || echo dash)"
	echo "- settings: one deployment of $stages stages, dir provider; $runs runs per row, median (min–max)"
	echo "- date: $(date -u +%Y-%m-%dT%H:%MZ)"
	echo "- command: bench/deploy.sh --runs $runs --stages $stages"
	echo
	echo "| what | wall time |"
	echo "|---|---:|"
	measure "cairn deploy, no-op ($stages stages unchanged)" sh -c "cd '$ws' && exec '$cairn' deploy //web:web"
	measure "cairn status ($stages stages, each read from its provider)" sh -c "cd '$ws' && exec '$cairn' status"
	measure "cairn rollback --stage s7 (dir provider)" "$tmp/flip.sh"
	measure "the provider's own work for that rollback, by a shell (ln -s, mv -T)" "$tmp/by_hand.sh"
	measure "sh -c true (a process start, for scale)" sh -c true
)
printf '%s\n' "$report"
[ -z "$out" ] || printf '%s\n' "$report" > "$out"
