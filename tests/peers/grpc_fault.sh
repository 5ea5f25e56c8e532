# A gRPC server that answers every call with one status (grpc_fault.py),
# for the remote tests' faults: UNAVAILABLE, RESOURCE_EXHAUSTED, INTERNAL...
# It listens on 127.0.0.1 only, so it needs no private network namespace.
#
# In a test (bash):
#   source "$TESTS/peers/grpc_fault.sh"
#   grpc_fault_start STATUS [ARG...]    # exports GRPC_FAULT_PORT,
#                        # GRPC_FAULT_URL (grpc://127.0.0.1:PORT),
#                        # GRPC_FAULT_PID, GRPC_FAULT_LOG; ARGs go to
#                        # grpc_fault.py (--answer METHOD=CODE, --message T)
#   cairn build --remote_cache="$GRPC_FAULT_URL" ...
#   grpc_fault_calls     # prints the :path of each call answered, in order
#   grpc_fault_stop      # optional: the test's exit stops it

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# grpc_fault_start STATUS [ARG...]: start it and wait until it listens.
grpc_fault_start() {
	peers_here grpc_fault_start || return 1
	peers_need python3 setpriv || return 1
	local i status=$1
	shift
	peers_dir
	local n=0
	while [ -e "$PEERS_DIR/grpc_fault.$n" ]; do n=$((n + 1)); done
	local dir=$PEERS_DIR/grpc_fault.$n
	mkdir -p "$dir"
	GRPC_FAULT_LOG=$dir/log
	peers_spawn "$dir/stderr" python3 "$PEERS_TOP/tests/peers/grpc_fault.py" \
		--status "$status" --port-file "$dir/port" --log "$GRPC_FAULT_LOG" \
		--max-seconds "$PEERS_MAX_SECONDS" --parent "$$" "$@"
	GRPC_FAULT_PID=$PEER_PID
	PEERS_LOGS+=("$GRPC_FAULT_LOG")
	for i in $(seq 100); do
		[ -s "$dir/port" ] && break
		kill -0 "$GRPC_FAULT_PID" 2>/dev/null || { peers_fail "grpc_fault exited:"; cat "$dir/stderr" >&2; return 1; }
		sleep 0.1
	done
	[ -s "$dir/port" ] || { peers_fail "grpc_fault did not listen within 10 s"; cat "$dir/stderr" >&2; return 1; }
	GRPC_FAULT_PORT=$(cat "$dir/port")
	GRPC_FAULT_URL=grpc://127.0.0.1:$GRPC_FAULT_PORT
	export GRPC_FAULT_PORT GRPC_FAULT_URL GRPC_FAULT_PID GRPC_FAULT_LOG
	echo "grpc_fault: $GRPC_FAULT_URL, status $status $* (pid $GRPC_FAULT_PID)" >&2
}

# grpc_fault_calls: the :path of every call answered so far, one a line.
grpc_fault_calls() { sed -n 's/^call [0-9]* \([^ ]*\) .*/\1/p' "${1:-$GRPC_FAULT_LOG}"; }

# grpc_fault_stop: stop it.
grpc_fault_stop() { peers_stop "$GRPC_FAULT_PID"; }
