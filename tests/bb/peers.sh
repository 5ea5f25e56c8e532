# The real peers of the remote tests (tests/peers/): RemoteWorker answers
# gRPC, nginx keeps and serves blobs, the fault proxy does what it is told,
# and each is gone when its test ends. A missing package fails the test
# with the command that installs it (scripts/deps-remote.sh).

source "$TESTS/peers/remote_worker.sh"
source "$TESTS/peers/nginx_cache.sh"
source "$TESTS/peers/faultproxy.sh"

V2=/build.bazel.remote.execution.v2

# gone PID: no process is left in the group PID led (a peer's timeout).
gone() {
	if pgrep -g "$1" >/dev/null; then
		ps -o pid,pgid,args -g "$1" >&2 || true
		echo "processes of peer $1 are left" >&2
		return 1
	fi
}

# closed PORT: nothing answers on 127.0.0.1:PORT.
closed() {
	if peers_port_open "$1"; then echo "port $1 still answers" >&2; return 1; fi
}

# probe ARGS...: h2probe.py's JSON in $out; py EXPR: a Python expression
# on it (as j) must hold.
probe() { out=$(python3 "$TESTS/peers/h2probe.py" "$@"); echo "$out"; }
py() {
	python3 -c 'import json, sys
j = json.loads(sys.argv[1])
sys.exit(0 if eval(sys.argv[2]) else "does not hold: %s\non: %s" % (sys.argv[2], sys.argv[1]))' "$out" "$1"
}

test_remote_worker_speaks_grpc() {
	netns_private
	remote_worker_start
	eq "$REMOTE_WORKER_URL" "grpc://127.0.0.1:$REMOTE_WORKER_PORT"
	# HTTP/2: the preface and SETTINGS both ways
	probe "$REMOTE_WORKER_PORT"
	py 'j["server_settings"] and j["settings_acked"]'
	# gRPC: capabilities with a digest function and both cache and execution
	probe "$REMOTE_WORKER_PORT" --call "$V2.Capabilities/GetCapabilities" --metadata
	py 'j["grpc_status"] == "0" and [1, 2] == [f[0] for f in j["fields"]][:2]'
	# its habits: no requestmetadata-bin header, no service; no BatchReadBlobs
	probe "$REMOTE_WORKER_PORT" --call "$V2.ContentAddressableStorage/FindMissingBlobs"
	py 'j["grpc_status"] == "3" and "RequestMetadata not received" in j["grpc_message"]'
	probe "$REMOTE_WORKER_PORT" --call "$V2.ContentAddressableStorage/FindMissingBlobs" --metadata
	py 'j["grpc_status"] == "0" and j["message_bytes"] == 0'
	probe "$REMOTE_WORKER_PORT" --call "$V2.ContentAddressableStorage/BatchReadBlobs" --metadata
	py 'j["grpc_status"] == "12"'
	# the classes are kept for the next run, under build/ of the repository
	remote_worker_build
	test -f "$REMOTE_WORKER_CLASSES/.done"
	case $REMOTE_WORKER_CLASSES in "$PEERS_TOP/build/peers/remote-worker/"*) ;; *) false ;; esac
	# stopped, nothing of it is left, and the port is closed
	remote_worker_stop
	gone "$REMOTE_WORKER_PID"
	closed "$REMOTE_WORKER_PORT"
}

test_remote_worker_wants_its_own_network() {
	# outside netns_private it refuses to start rather than bind every
	# interface of the machine
	run 1 remote_worker_start_subshell
	has "call netns_private first"
}
remote_worker_start_subshell() { bash -c 'source "$TESTS/peers/remote_worker.sh"; remote_worker_start'; }

test_remote_worker_run_command() {
	# the form for scripts: its own namespace, the command, then nothing left
	run 0 timeout 120 "$TESTS/peers/remote_worker.sh" run bash -c \
		'python3 "$TESTS/peers/h2probe.py" "$REMOTE_WORKER_PORT" && echo "pgid $REMOTE_WORKER_PID"'
	has '"settings_acked": true'
	gone "$(printf '%s\n' "$out" | sed -n 's/^pgid //p')"
}

test_nginx_cache_round_trip() {
	nginx_cache_start
	local blob sum big
	head -c 300000 /dev/urandom > blob
	sum=$(sha256sum < blob | cut -d' ' -f1)
	# PUT, then GET byte for byte; missing keys are 404
	eq "$(curl -sS -o /dev/null -w '%{http_code}' -T blob "$NGINX_CACHE_URL/cas/$sum")" 201
	eq "$(curl -sS -o got -w '%{http_code}' "$NGINX_CACHE_URL/cas/$sum")" 200
	cmp blob got
	eq "$(curl -sS -o /dev/null -w '%{http_code}' "$NGINX_CACHE_URL/cas/$(printf x | sha256sum | cut -d' ' -f1)")" 404
	eq "$(curl -sS -o /dev/null -w '%{http_code}' "$NGINX_CACHE_URL/ac/$sum")" 404
	cmp blob "$NGINX_CACHE_ROOT/cas/$sum"
	# a prefix, made on the first PUT; an overwrite; an empty blob
	printf 'action result' > ac
	eq "$(curl -sS -o /dev/null -w '%{http_code}' -T ac "$NGINX_CACHE_URL/team/a/ac/$sum")" 201
	eq "$(curl -sS -o /dev/null -w '%{http_code}' -T ac "$NGINX_CACHE_URL/team/a/ac/$sum")" 204
	eq "$(curl -sS "$NGINX_CACHE_URL/team/a/ac/$sum")" "action result"
	: > empty
	eq "$(curl -sS -o /dev/null -w '%{http_code}' -T empty "$NGINX_CACHE_URL/cas/$(sha256sum < empty | cut -d' ' -f1)")" 201
	# a large blob (no body size limit)
	head -c 20000000 /dev/urandom > big
	big=$(sha256sum < big | cut -d' ' -f1)
	eq "$(curl -sS -o /dev/null -w '%{http_code}' -T big "$NGINX_CACHE_URL/cas/$big")" 201
	eq "$(curl -sS "$NGINX_CACHE_URL/cas/$big" | sha256sum | cut -d' ' -f1)" "$big"
	grep -q "\"GET /cas/$sum HTTP/1.1\" 200 300000" "$NGINX_CACHE_ACCESS_LOG"
	# only loopback
	ss -ltn | grep -q "127.0.0.1:$NGINX_CACHE_PORT "
	nginx_cache_stop
	gone "$NGINX_CACHE_PID"
	closed "$NGINX_CACHE_PORT"
}

# echo_start: a local echo server; ECHO_PORT.
echo_start() {
	peers_dir
	peers_spawn "$PEERS_DIR/echo.log" python3 "$TESTS/peers/echo.py" serve --port-file "$PEERS_DIR/echo.port"
	local i
	for i in $(seq 100); do [ -s "$PEERS_DIR/echo.port" ] && break; sleep 0.1; done
	ECHO_PORT=$(cat "$PEERS_DIR/echo.port")
}
# send N: N bytes through the proxy; its JSON in $out.
send() { out=$(python3 "$TESTS/peers/echo.py" send "$FAULTPROXY_PORT" --bytes "$1"); echo "$out"; }

test_faultproxy_passes_drops_cuts_flips() {
	echo_start
	faultproxy_start "$ECHO_PORT"
	send 100000
	py 'j["received"] == 100000 and j["diffs"] == [] and j["end"] == "eof"'
	faultproxy_mode drop
	send 1000
	py 'j["received"] == 0'
	faultproxy_mode reset
	send 1000
	# the reset reaches the client on its send or on its receive, whichever comes first
	py 'j["received"] == 0 and "ConnectionResetError" in (j["end"], j.get("send_error"))'
	faultproxy_mode cut=5000
	send 100000
	py 'j["received"] <= 5000 and j["diffs"] == []'
	faultproxy_mode cut-down=777
	send 100000
	py 'j["received"] == 777 and j["diffs"] == []'
	faultproxy_mode flip=12345
	send 100000
	py 'j["received"] == 100000 and j["diffs"] == [12345]'
	faultproxy_mode flip=3:0x01+delay=300
	send 10
	py 'j["received"] == 10 and j["diffs"] == [3] and j["seconds"] >= 0.3'
	faultproxy_conns
	out=$(faultproxy_conns)
	has "conn 1 mode=pass up=100000 down=100000 end=eof"
	has "conn 2 mode=drop up=0 down=0 end=drop"
	has "conn 5 mode=cut-down=777 "
	has "flipped=12345"
	faultproxy_stop
	gone "$FAULTPROXY_PID"
}

test_faultproxy_takes_one_mode_per_connection() {
	echo_start
	faultproxy_start "$ECHO_PORT" "drop, drop pass"
	send 100; py 'j["received"] == 0'
	send 100; py 'j["received"] == 0'
	send 100; py 'j["received"] == 100'
	send 100; py 'j["received"] == 100'
	# the same list written again starts again at its first mode
	faultproxy_mode "drop pass"
	send 100; py 'j["received"] == 0'
	send 100; py 'j["received"] == 100'
	faultproxy_mode "drop pass"
	send 100; py 'j["received"] == 0'
	# a bad mode is refused before it reaches the proxy
	run 1 faultproxy_mode "flip=x"
	has "needs a number"
	run 2 python3 "$TESTS/peers/faultproxy.py" --target 1 --mode bogus
	has "unknown mode"
}

test_faultproxy_stops_by_itself() {
	echo_start
	# after --max-seconds
	python3 "$TESTS/peers/faultproxy.py" --target "$ECHO_PORT" --max-seconds 2 --log plog &
	local proxy=$! t0=$SECONDS
	while kill -0 "$proxy" 2>/dev/null; do [ $((SECONDS - t0)) -lt 20 ]; sleep 0.2; done
	grep -q "stopping: --max-seconds 2 passed" plog
	# when the process it watches is gone
	sleep 30 & local sleeper=$!
	python3 "$TESTS/peers/faultproxy.py" --target "$ECHO_PORT" --parent "$sleeper" --log plog --max-seconds 60 &
	proxy=$!
	sleep 0.5
	kill "$sleeper"
	t0=$SECONDS
	while kill -0 "$proxy" 2>/dev/null; do [ $((SECONDS - t0)) -lt 10 ]; sleep 0.2; done
	grep -q "stopping: process $sleeper is gone" plog
}

test_peers_die_with_their_test() {
	# a test shell killed outright (no EXIT trap) still takes its peers
	# with it: the parent-death signal reaches each (its PEERS_DIR stays:
	# this test makes and removes it)
	local dead
	dead=$(mktemp -d "${TMPDIR:-/tmp}/cairn-peers.XXXXXX")
	PEERS_DIR=$dead bash -c '
		source "$TESTS/peers/nginx_cache.sh"; source "$TESTS/peers/faultproxy.sh"
		nginx_cache_start; faultproxy_start "$NGINX_CACHE_PORT"
		echo "$NGINX_CACHE_PID $FAULTPROXY_PID" > pids
		kill -KILL $$' || true
	local pid t0=$SECONDS
	for pid in $(cat pids); do
		while pgrep -g "$pid" >/dev/null; do [ $((SECONDS - t0)) -lt 20 ]; sleep 0.2; done
	done
	rm -rf "$dead"
	# and a normal exit stops them through the trap, at once
	bash -c '
		source "$TESTS/peers/nginx_cache.sh"; source "$TESTS/peers/faultproxy.sh"
		nginx_cache_start; faultproxy_start "$NGINX_CACHE_PORT"
		echo "$NGINX_CACHE_PID $FAULTPROXY_PID" > pids'
	for pid in $(cat pids); do gone "$pid"; done
}

test_peers_say_what_to_install() {
	# a missing package fails, naming the script that installs it
	run 1 bash -c 'source "$TESTS/peers/nginx_cache.sh"; NGINX_BIN=/nonexistent/nginx; nginx_cache_start'
	has "run scripts/deps-remote.sh"
	run 1 bash -c 'source "$TESTS/peers/lib.sh"; peers_need no-such-command-xyz'
	has "missing no-such-command-xyz: run scripts/deps-remote.sh"
	# and the real ones are there
	peers_need java javac nginx curl unshare ip setpriv python3 /usr/share/bazel/A-server.jar \
		"$REMOTE_WORKER_SRC/RemoteWorker.java"
}
