# Shared helpers for the real peers that the remote tests start: RemoteWorker
# (remote_worker.sh), nginx as an HTTP cache (nginx_cache.sh) and the
# fault-injecting proxy (faultproxy.sh). Source it from bash; the peer files
# source it themselves.
#
# Every peer is started by peers_spawn, which bounds it three ways: it dies
# with the shell that started it (the parent-death signal), after
# $PEERS_MAX_SECONDS (default 600) whatever happens, and at that shell's exit
# (an EXIT trap, set once, that stops every peer it started). Call the
# start functions directly, never in $(...): a subshell would own the peer.
#
# Files (configs, logs, data) go to $PEERS_DIR, by default a fresh directory
# under ${TMPDIR:-/tmp} that the exit removes; when the shell exits non-zero,
# the tail of each peer's log is printed first. Set PEERS_DIR to keep them.

[ -n "${PEERS_LIB_LOADED:-}" ] && return 0
PEERS_LIB_LOADED=1
PEERS_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
PEERS_MAX_SECONDS=${PEERS_MAX_SECONDS:-600}
PEERS_PIDS=()   # every peer started by this shell (the pid of its timeout)
PEERS_LOGS=()
PEERS_OWN_DIR=  # PEERS_DIR was made here: the exit removes it

peers_fail() { printf 'peers: %s\n' "$*" >&2; return 1; }

# peers_need COMMAND|PATH...: each command is on PATH or path exists, or fail
# saying how to install them.
peers_need() {
	local w missing=()
	for w in "$@"; do
		case $w in
		/*) [ -e "$w" ] || missing+=("$w") ;;
		*) command -v "$w" >/dev/null 2>&1 || missing+=("$w") ;;
		esac
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	peers_fail "missing ${missing[*]}: run scripts/deps-remote.sh (as root) to install the remote tests' packages"
}

# peers_here: fail if called in a subshell (the peer would belong to it).
peers_here() {
	[ "$BASHPID" = "$$" ] && return 0
	peers_fail "$1: call it directly, not in \$(...) or a pipe"
}

# peers_dir: make $PEERS_DIR if needed and print it.
peers_dir() {
	if [ -z "${PEERS_DIR:-}" ]; then
		PEERS_DIR=$(mktemp -d "${TMPDIR:-/tmp}/cairn-peers.XXXXXX")
		PEERS_OWN_DIR=$PEERS_DIR
	fi
	mkdir -p "$PEERS_DIR"
	chmod 755 "$PEERS_DIR"
}

# peers_free_port: print a TCP port free on 127.0.0.1 right now.
peers_free_port() {
	python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

# peers_port_open PORT: a TCP connection to 127.0.0.1:PORT succeeds.
peers_port_open() {
	timeout 2 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1"' _ "$1" 2>/dev/null
}

# peers_wait_port PORT PID SECONDS LOG: wait until 127.0.0.1:PORT accepts,
# failing (with LOG's tail) if PID exits first or SECONDS pass.
peers_wait_port() {
	local port=$1 pid=$2 secs=$3 log=$4 end=$((SECONDS + $3))
	while ! peers_port_open "$port"; do
		if ! kill -0 "$pid" 2>/dev/null; then
			peers_fail "the peer (pid $pid) exited before port $port answered; its log $log:"
			tail -n 30 "$log" >&2
			return 1
		fi
		if [ "$SECONDS" -ge "$end" ]; then
			peers_fail "port $port did not answer within ${secs}s; the log $log:"
			tail -n 30 "$log" >&2
			return 1
		fi
		sleep 0.1
	done
}

# peers_spawn LOG CMD...: start CMD in the background, bounded (see above),
# its output to LOG; PEER_PID is the pid to stop it by (a timeout(1) that
# leads CMD's process group).
peers_spawn() {
	local log=$1; shift
	peers_here peers_spawn || return 1
	if [ ${#PEERS_PIDS[@]} -eq 0 ]; then
		trap 'peers_exit $?' EXIT
		trap 'exit 143' TERM
		trap 'exit 130' INT
		trap 'exit 129' HUP
	fi
	setpriv --pdeathsig TERM -- timeout -k 5 "$PEERS_MAX_SECONDS" \
		setpriv --pdeathsig TERM -- "$@" >"$log" 2>&1 </dev/null &
	PEER_PID=$!
	PEERS_PIDS+=("$PEER_PID")
	PEERS_LOGS+=("$log")
}

# peers_stop PID [SIGNAL]: stop the peer PID (TERM, or SIGNAL), then its
# whole process group after 10 s; return once every process of it is gone.
peers_stop() {
	local pid=$1 sig=${2:-TERM} i
	kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
	if [ "$sig" = KILL ]; then
		kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
	else
		kill "-$sig" "$pid" 2>/dev/null || true
	fi
	for i in $(seq 100); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL -- "-$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	# what is left of the group (children that outlived the leader)
	for i in $(seq 50); do
		kill -0 -- "-$pid" 2>/dev/null || return 0
		kill -KILL -- "-$pid" 2>/dev/null || true
		sleep 0.1
	done
	peers_fail "process group $pid would not die"
}

# peers_stop_all: stop every peer this shell started.
peers_stop_all() {
	local pid
	for pid in "${PEERS_PIDS[@]}"; do peers_stop "$pid" || true; done
	PEERS_PIDS=()
}

# The EXIT trap: stop the peers; on failure show their logs; remove the
# directory made for them.
peers_exit() {
	local code=$1 log
	set +e +x
	peers_stop_all
	if [ "$code" -ne 0 ]; then
		for log in "${PEERS_LOGS[@]}"; do
			[ -s "$log" ] || continue
			printf -- '--- %s (last 20 lines)\n' "$log" >&2
			tail -n 20 "$log" >&2
		done
	fi
	[ -n "$PEERS_OWN_DIR" ] && rm -rf "$PEERS_OWN_DIR"
	return "$code"
}

# netns_private: run the calling test from its start again inside a private
# network namespace where only lo exists (up); a no-op when already there.
# Call it first in a test that starts RemoteWorker, which binds every
# interface: there, every interface is loopback, and the test's commands
# (cairn, curl, the proxy) reach the worker at 127.0.0.1. Whatever the test
# did before runs again (peers it started are stopped first). Works in a
# test run by tests/run.sh; a script uses tests/peers/netns.sh instead.
netns_private() {
	[ "${CAIRN_NETNS:-}" = "$(readlink /proc/self/ns/net)" ] && return 0
	[ -z "${CAIRN_NETNS_TRIED:-}" ] || peers_fail "netns_private: still not in the private namespace" || return 1
	peers_need unshare ip setpriv || return 1
	local i file= fn=
	for i in "${!FUNCNAME[@]}"; do
		case ${FUNCNAME[$i]} in test_*) fn=${FUNCNAME[$i]}; file=${BASH_SOURCE[$i]} ;; esac
	done
	[ -n "$fn" ] || peers_fail "netns_private: not called from a test_* function (a script: tests/peers/netns.sh CMD)" || return 1
	peers_stop_all
	set +x
	export CAIRN_NETNS_TRIED=1
	exec "$PEERS_TOP/tests/peers/netns.sh" bash -e -u -o pipefail -c '
		{ : >&9; } 2>/dev/null && BASH_XTRACEFD=9
		source "$TESTS/bb/lib.sh"; source "$1"; set -x; "$2"' _ "$file" "$fn"
}
