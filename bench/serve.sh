#!/bin/bash
# bench/serve.sh: `cairn serve` against Bazel's RemoteWorker, the REAPI
# cache rows of issue 15, measured in one run by the same client
# (bench/serve_bench.c, cairn's own REAPI client):
#   ByteStream write and read of one blob of --gib GiB (1), FindMissingBlobs
#   of 10,000 digests, GetActionResult latency (p50, p99 of 1,000), each
#   server's peak RSS (VmHWM) over that, and executions per second of 200
#   no-op actions (cairn build -j 32 --remote_executor; cairn serve with
#   --workers 1:4).
#
#   bench/serve.sh [--gib N] [--out FILE]
#
# RemoteWorker binds every interface, so the whole run is in a private
# network namespace (tests/peers/netns.sh) where only loopback exists.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
gib=1 out=
while [ $# -gt 0 ]; do
	case $1 in
	--gib) gib=$2; shift 2 ;;
	--out) out=$2; shift 2 ;;
	*) echo "usage: $0 [--gib N] [--out FILE]" >&2; exit 2 ;;
	esac
done
[ -z "$out" ] || case $out in /*) ;; *) out=$PWD/$out ;; esac
if [ "${CAIRN_NETNS:-}" != "$(readlink /proc/self/ns/net)" ]; then
	exec "$root/tests/peers/netns.sh" bash "$here/serve.sh" --gib "$gib" ${out:+--out "$out"}
fi
make -s -C "$root" cairn build/bench/serve_bench
scratch=$(mktemp -d "${TMPDIR:-/tmp}/cairn-bench-serve.XXXXXX")
export PEERS_DIR="$scratch/peers" XDG_CACHE_HOME="$scratch/xdg"
# RemoteWorker holds a blob in its heap: give it room for --gib of them
export REMOTE_WORKER_JAVA_OPTS=${REMOTE_WORKER_JAVA_OPTS:--Xms64m -Xmx6g -XX:+UseSerialGC}
# shellcheck source=../tests/peers/remote_worker.sh
source "$root/tests/peers/remote_worker.sh"
cleanup() { peers_stop_all; rm -rf "$scratch"; }

# server PID: the server under PID (peers_spawn runs it under setpriv and
# timeout): down the chain of children to the first that is not one of
# those (cairn serve's own children are its workers)
server() {
	local p=$1 c
	while case $(cat "/proc/$p/comm") in setpriv | timeout) true ;; *) false ;; esac &&
		c=$(pgrep -P "$p" | head -n 1) && [ -n "$c" ]; do p=$c; done
	echo "$p"
}

# run NAME URL PID: the client's rows for one server, then its peak RSS
run() {
	"$root/build/bench/serve_bench" "$2" --gib "$gib" > "$scratch/$1.rows"
	awk '/^VmHWM/ { print "rss_mib", $2 / 1024, "MiB" }' "/proc/$(server "$3")/status" >> "$scratch/$1.rows"
}

# execs NAME URL: executions per second of no-op actions (N genrules that
# touch their output, none cached), cairn's client at -j 32
execs() {
	local ws=$scratch/exec.$1 n=200 i t0 t1
	mkdir -p "$ws/a"
	: > "$ws/WORKSPACE.lua"
	for i in $(seq "$n"); do
		echo "genrule { name = \"n$i\", outs = { \"n$i.txt\" }, cmd = \"touch \$@ # $1 $RANDOM\" }"
	done > "$ws/a/BUILD.lua"
	t0=$(date +%s%N)
	(cd "$ws" && XDG_CACHE_HOME=$ws/cache "$root/cairn" build -j 32 --remote_executor="$2") > "$ws/log" 2>&1
	t1=$(date +%s%N)
	grep -q "$n executed ($n remote)" "$ws/log" || { echo "serve.sh: the no-op actions did not all run remotely:" >&2; tail -3 "$ws/log" >&2; return 1; }
	awk -v n="$n" -v ns=$((t1 - t0)) 'BEGIN { printf "execs_per_s %.1f execs/s\n", n / (ns / 1e9) }' >> "$scratch/$1.rows"
}

port=$(peers_free_port)
peers_spawn "$scratch/serve.log" "$root/cairn" serve --listen "127.0.0.1:$port" --store "$scratch/store" --workers 1:4
serve_pid=$PEER_PID
peers_wait_port "$port" "$serve_pid" 10 "$scratch/serve.log"
run cairn "grpc://127.0.0.1:$port" "$serve_pid"
execs cairn "grpc://127.0.0.1:$port"
peers_stop "$serve_pid"

remote_worker_start
run worker "$REMOTE_WORKER_URL" "$REMOTE_WORKER_PID"
execs worker "$REMOTE_WORKER_URL"
remote_worker_stop || true

cpu=$(sed -n '/^model name/{s/^[^:]*:[[:space:]]*//p;q;}' /proc/cpuinfo 2>/dev/null || true)
report=$(
	echo "# cairn benchmark: cairn serve against RemoteWorker"
	echo
	echo "- machine: $(nproc) CPUs, ${cpu:-unknown CPU}, Linux $(uname -r)"
	echo "- tools: $("$root/cairn" --version); RemoteWorker from bazel-bootstrap-source; client: bench/serve_bench (cairn's REAPI client)"
	echo "- command: bench/serve.sh --gib $gib; one run, loopback in a network namespace of its own"
	echo "- date: $(date -u +%Y-%m-%dT%H:%MZ)"
	echo
	echo "| | cairn serve | RemoteWorker | cairn ÷ RemoteWorker |"
	echo "|---|---:|---:|---:|"
	python3 - "$scratch/cairn.rows" "$scratch/worker.rows" <<'PY'
import sys
def rows(p):
    r = {}
    for line in open(p):
        name, value, unit = line.split()
        r[name] = (float(value), unit)
    return r
c, w = rows(sys.argv[1]), rows(sys.argv[2])
names = {
    "write_mib_s": "ByteStream Write, one blob (higher is better)",
    "read_mib_s": "ByteStream Read, the same blob (higher is better)",
    "find_missing_ms": "FindMissingBlobs, 10,000 digests",
    "get_result_p50_us": "GetActionResult, p50 of 1,000",
    "get_result_p99_us": "GetActionResult, p99 of 1,000",
    "execs_per_s": "executions of no-op actions per second (200, -j 32; higher is better)",
    "rss_mib": "server peak RSS over the run (before the executions)",
}
for k, label in names.items():
    if k in c and k in w:
        (a, u), (b, _) = c[k], w[k]
        print(f"| {label} | {a:.4g} {u} | {b:.4g} {u} | {a / b:.3g}x |")
PY
)
printf '%s\n' "$report"
[ -z "$out" ] || printf '%s\n' "$report" > "$out"
cleanup
