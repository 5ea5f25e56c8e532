#!/bin/bash
# bench/serve_load.sh: the load test of issue 15. One `cairn serve
# --workers 1:4` on loopback and 32 clients for --seconds (60) at once:
#   24 cairn REAPI clients (bench/serve_bench --mix): rounds of
#      FindMissingBlobs (100 digests), ByteStream Write and Read of a new
#      2 MiB blob, GetActionResult;
#   8 loops of `cairn build --remote_executor`, each build a new cheap
#      action (Execute, with its FindMissing and uploads).
# Reports: rounds and errors, each client kind's p50/p99, the server's
# RPC failures (from /metrics), its p99 per method (from the histogram
# buckets: the bucket the 99th percentile falls in) and its peak RSS.
#
#   bench/serve_load.sh [--seconds N] [--out FILE]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
secs=60 out=
while [ $# -gt 0 ]; do
	case $1 in
	--seconds) secs=$2; shift 2 ;;
	--out) out=$2; shift 2 ;;
	*) echo "usage: $0 [--seconds N] [--out FILE]" >&2; exit 2 ;;
	esac
done
[ -z "$out" ] || case $out in /*) ;; *) out=$PWD/$out ;; esac
make -s -C "$root" cairn build/bench/serve_bench
scratch=$(mktemp -d "${TMPDIR:-/tmp}/cairn-serve-load.XXXXXX")
server=
cleanup() { [ -z "$server" ] || kill "$server" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$scratch"; }
trap cleanup EXIT
"$root/cairn" serve --listen 127.0.0.1:0 --metrics 127.0.0.1:0 --workers 1:4 \
	--store "$scratch/store" > "$scratch/serve.log" 2>&1 &
server=$!
for _ in $(seq 100); do grep -q "metrics and status" "$scratch/serve.log" && break; sleep 0.05; done
port=$(sed -n 's/^cairn: serving .* on 127.0.0.1:\([0-9]*\)$/\1/p' "$scratch/serve.log")
mport=$(sed -n 's|.*http://127.0.0.1:\([0-9]*\)/.*|\1|p' "$scratch/serve.log")
url=grpc://127.0.0.1:$port

# the builders: each build a new action (its input changes)
builder() {
	local ws=$scratch/ws$1 n=0 end=$((SECONDS + secs)) fail=0 t0 ms
	mkdir -p "$ws/a"
	: > "$ws/WORKSPACE.lua"
	echo 'genrule { name = "g", srcs = { "in.txt" }, outs = { "g.txt" }, cmd = "tr a-z A-Z < $< > $@" }' > "$ws/a/BUILD.lua"
	while [ "$SECONDS" -lt "$end" ]; do
		echo "round $1 $n $RANDOM" > "$ws/a/in.txt"
		t0=$(date +%s%N)
		(cd "$ws" && XDG_CACHE_HOME=$ws/cache "$root/cairn" build --remote_executor="$url") \
			> "$ws/log" 2>&1 || fail=$((fail + 1))
		grep -q "1 executed (1 remote)" "$ws/log" || fail=$((fail + 1))
		ms=$((($(date +%s%N) - t0) / 1000000))
		echo "$ms" >> "$scratch/build.ms"
		n=$((n + 1))
	done
	echo "builds $n errors $fail" > "$scratch/builder$1.out"
}
for i in $(seq 24); do
	"$root/build/bench/serve_bench" "$url" --mix "$secs" > "$scratch/mix$i.out" 2>&1 &
done
for i in $(seq 8); do builder "$i" & done
wait $(jobs -p | grep -v "^$server$") 2>/dev/null || true
curl -sf "http://127.0.0.1:$mport/metrics" > "$scratch/metrics.txt"
rss=$(awk '/^VmHWM/ { printf "%.1f", $2 / 1024 }' "/proc/$server/status")

cpu=$(sed -n '/^model name/{s/^[^:]*:[[:space:]]*//p;q;}' /proc/cpuinfo 2>/dev/null || true)
report=$(
	echo "# cairn benchmark: cairn serve under load"
	echo
	echo "- machine: $(nproc) CPUs, ${cpu:-unknown CPU}, Linux $(uname -r)"
	echo "- command: bench/serve_load.sh --seconds $secs (server: --workers 1:4, loopback)"
	echo "- clients: 24 × serve_bench --mix, 8 × loops of cairn build --remote_executor; all at once"
	echo "- date: $(date -u +%Y-%m-%dT%H:%MZ)"
	echo
	python3 - "$scratch" "$rss" <<'PY'
import glob, os, re, sys
d, rss = sys.argv[1], sys.argv[2]
rounds = errors = 0; p50 = []; p99 = []
for f in glob.glob(os.path.join(d, "mix*.out")):
    t = open(f).read().split()
    if len(t) >= 8:
        rounds += int(t[1]); errors += int(t[3]); p50.append(float(t[5])); p99.append(float(t[7]))
    else:
        errors += 1
builds = berr = 0
for f in glob.glob(os.path.join(d, "builder*.out")):
    t = open(f).read().split()
    builds += int(t[1]); berr += int(t[3])
ms = sorted(int(x) for x in open(os.path.join(d, "build.ms")).read().split()) if os.path.exists(os.path.join(d, "build.ms")) else [0]
fails = {}; buckets = {}; counts = {}
for line in open(os.path.join(d, "metrics.txt")):
    m = re.match(r'cairn_serve_rpc_failures_total\{method="([^"]+)"\} (\d+)', line)
    if m: fails[m.group(1)] = int(m.group(2))
    m = re.match(r'cairn_serve_rpc_duration_seconds_bucket\{method="([^"]+)",le="([^"]+)"\} (\d+)', line)
    if m: buckets.setdefault(m.group(1), []).append((m.group(2), int(m.group(3))))
    m = re.match(r'cairn_serve_rpc_duration_seconds_count\{method="([^"]+)"\} (\d+)', line)
    if m: counts[m.group(1)] = int(m.group(2))
print("| what | figure |")
print("|---|---:|")
print(f"| mix rounds (FindMissing 100 + Write 2 MiB + Read + GetActionResult) | {rounds} |")
print(f"| mix round p50 / p99, worst client | {max(p50) if p50 else 0:.1f} / {max(p99) if p99 else 0:.1f} ms |")
print(f"| builds executed remotely | {builds} |")
print(f"| build p50 / p99 (a cairn process, FindMissing, uploads, Execute) | {ms[len(ms)//2]} / {ms[(len(ms)*99)//100]} ms |")
print(f"| client errors | {errors + berr} |")
print(f"| server RPC failures (all methods) | {sum(fails.values())} |")
print(f"| server peak RSS | {rss} MiB |")
print()
print("| method | calls | p99 (bucket) |")
print("|---|---:|---:|")
for meth, bs in sorted(buckets.items()):
    n = counts.get(meth, 0)
    if not n: continue
    want = 0.99 * n; le = "+Inf"
    for b, c in bs:
        if c >= want: le = b; break
    label = le if le == "+Inf" else f"≤ {float(le) * 1000:g} ms"
    print(f"| {meth} | {n} | {label} |")
PY
)
printf '%s\n' "$report"
[ -z "$out" ] || printf '%s\n' "$report" > "$out"
