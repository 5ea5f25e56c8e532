# `cairn serve` as a peer of the remote tests (tests/bb/serve.sh): started
# by peers_spawn, so it is bounded like the others and stopped at the
# test's exit whatever happens.
#   serve_start [--store DIR] [ARG...]   start it on a free loopback port
#       (port 0: it says which on its first line); sets SERVE_PORT,
#       SERVE_URL (grpc://127.0.0.1:PORT), SERVE_PID, SERVE_STORE,
#       SERVE_LOG. -v is always on, so the log has a line per call.
#   serve_stop [SIGNAL]                  stop it (TERM; KILL for a crash)
#   grpc_raw ARG...                      tests/peers/grpc_raw.py on its port
#   grpc_py CODE [ARG...]                python with grpc_raw.py imported, PORT set

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

serve_start() {
	peers_here serve_start || return 1
	peers_dir
	local store=
	if [ "${1:-}" = --store ]; then store=$2; shift 2; fi
	local n=0
	while [ -e "$PEERS_DIR/serve.$n" ]; do n=$((n + 1)); done
	local dir=$PEERS_DIR/serve.$n
	mkdir -p "$dir"
	SERVE_STORE=${store:-$dir/store}
	SERVE_LOG=$dir/log
	peers_spawn "$SERVE_LOG" "$CAIRN" serve --listen 127.0.0.1:0 --store "$SERVE_STORE" -v "$@"
	SERVE_PID=$PEER_PID
	local end=$((SECONDS + 20)) line=
	until line=$(grep -m1 '^cairn: serving ' "$SERVE_LOG" 2>/dev/null); do
		if ! kill -0 "$SERVE_PID" 2>/dev/null || [ "$SECONDS" -ge "$end" ]; then
			peers_fail "cairn serve did not start; its log:"
			cat "$SERVE_LOG" >&2
			return 1
		fi
		sleep 0.05
	done
	SERVE_PORT=${line##*:}
	case $SERVE_PORT in '' | *[!0-9]*) peers_fail "no port in: $line"; return 1 ;; esac
	peers_wait_port "$SERVE_PORT" "$SERVE_PID" 10 "$SERVE_LOG" || return 1
	SERVE_URL=grpc://127.0.0.1:$SERVE_PORT
	export SERVE_PORT SERVE_URL SERVE_PID SERVE_STORE SERVE_LOG
	echo "serve: $SERVE_URL (pid $SERVE_PID, store $SERVE_STORE, log $SERVE_LOG)" >&2
}

serve_stop() { peers_stop "$SERVE_PID" "${1:-TERM}"; }

grpc_raw() { python3 "$PEERS_TOP/tests/peers/grpc_raw.py" "$SERVE_PORT" "$@"; }

# grpc_py CODE [ARG...]: run python3 CODE with grpc_raw.py's names imported
# and PORT set to the server's port (an assert that fails fails the call).
grpc_py() {
	local code=$1; shift
	python3 -c "import sys; sys.path.insert(0, '$PEERS_TOP/tests/peers')
from grpc_raw import *
PORT = $SERVE_PORT
$code" "$@"
}
