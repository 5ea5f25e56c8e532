# The fault-injecting TCP proxy (faultproxy.py) between a client and a real
# peer, on 127.0.0.1. Modes: pass, drop, reset, delay=MS, stall, cut=N,
# cut-up=N, cut-down=N, flip=N[:MASK], joined by '+'; a list of them takes
# one per connection, the last repeating (see faultproxy.py's top).
#
# In a test (bash; see tests/bb/peers.sh):
#   source "$TESTS/peers/faultproxy.sh"
#   faultproxy_start TARGET_PORT [MODES]   # exports FAULTPROXY_PORT,
#                        # FAULTPROXY_PID, FAULTPROXY_CONTROL, FAULTPROXY_LOG
#   cairn build --remote_cache=grpc://127.0.0.1:$FAULTPROXY_PORT ...
#   faultproxy_mode "drop drop pass"        # new connections from now on
#   faultproxy_conns                        # prints the log's per-connection lines
#   faultproxy_stop                         # optional: the test's exit stops it
# Several proxies: each start overwrites the FAULTPROXY_* variables; keep
# them before the next start; faultproxy_mode MODES CONTROL_FILE.
# Inside netns_private, it forwards to the namespace's 127.0.0.1.

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# faultproxy_start TARGET_PORT [MODES]: start it and wait until it listens.
faultproxy_start() {
	peers_here faultproxy_start || return 1
	peers_need python3 setpriv || return 1
	local target=$1 modes=${2:-pass} i
	peers_dir
	local n=0
	while [ -e "$PEERS_DIR/faultproxy.$n" ]; do n=$((n + 1)); done
	local dir=$PEERS_DIR/faultproxy.$n
	mkdir -p "$dir"
	FAULTPROXY_CONTROL=$dir/control
	FAULTPROXY_LOG=$dir/log
	faultproxy_mode "$modes" "$FAULTPROXY_CONTROL"
	peers_spawn "$dir/stderr" python3 "$PEERS_TOP/tests/peers/faultproxy.py" \
		--target "$target" --port-file "$dir/port" --mode "$modes" \
		--control "$FAULTPROXY_CONTROL" --log "$FAULTPROXY_LOG" \
		--max-seconds "$PEERS_MAX_SECONDS" --parent "$$"
	FAULTPROXY_PID=$PEER_PID
	PEERS_LOGS+=("$FAULTPROXY_LOG")
	for i in $(seq 100); do
		[ -s "$dir/port" ] && break
		kill -0 "$FAULTPROXY_PID" 2>/dev/null || { peers_fail "faultproxy exited:"; cat "$dir/stderr" >&2; return 1; }
		sleep 0.1
	done
	[ -s "$dir/port" ] || { peers_fail "faultproxy did not listen within 10 s"; cat "$dir/stderr" >&2; return 1; }
	FAULTPROXY_PORT=$(cat "$dir/port")
	export FAULTPROXY_PORT FAULTPROXY_PID FAULTPROXY_CONTROL FAULTPROXY_LOG
	echo "faultproxy: 127.0.0.1:$FAULTPROXY_PORT -> 127.0.0.1:$target, modes $modes (pid $FAULTPROXY_PID)" >&2
}

# faultproxy_mode MODES [CONTROL_FILE]: the modes for the connections that
# come next (the proxy re-reads the file at each new connection). Writing
# the same text again restarts the list at its first mode.
faultproxy_mode() {
	local f=${2:-$FAULTPROXY_CONTROL}
	python3 -c 'import sys, importlib.util
spec = importlib.util.spec_from_file_location("fp", sys.argv[1])
fp = importlib.util.module_from_spec(spec); spec.loader.exec_module(fp)
try:
    fp.parse_modes(sys.argv[2])
except ValueError as e:
    sys.exit("faultproxy_mode: %s" % e)' "$PEERS_TOP/tests/peers/faultproxy.py" "$1" || return 1
	# a changed text restarts the list; a marker line makes a rewrite of
	# the same modes a change too
	printf '%s\n# %s\n' "$1" "$(date +%s%N)" > "$f.tmp"
	mv "$f.tmp" "$f"
}

# faultproxy_conns: the proxy's lines for the connections that ended.
faultproxy_conns() { grep '^conn ' "${1:-$FAULTPROXY_LOG}" || true; }

# faultproxy_stop: stop it.
faultproxy_stop() { peers_stop "$FAULTPROXY_PID"; }
