# Shared by apply.sh, read.sh and destroy.sh, which source it: the
# provider commands of //web:web (see ../BUILD.lua). They run from the
# workspace root with CAIRN_STAGE_PATH set, and a stage is a directory:
#
#   server.pid   pid of the stage's server, written when it is started
#   release      the release digest it was started with; the server
#                serves this file at /release
#   server.log   the server's output, appended to by every start
#
# A stage is live when server.pid names a running server of this stage.

: "${CAIRN_STAGE_PATH:?is not set}"
pidfile=$CAIRN_STAGE_PATH/server.pid
relfile=$CAIRN_STAGE_PATH/release

# nap: wait about a tenth of a second (a whole one where sleep takes
# only integers).
nap() { sleep 0.1 2>/dev/null || sleep 1; }

# is_server PID: PID is running and is this stage's server. A pid alone
# may have been reused by another process since it was written (or be a
# zombie); where /proc is there, the command line must also name this
# stage's release file.
is_server() {
	case $1 in '' | *[!0-9]*) return 1 ;; esac
	kill -0 "$1" 2>/dev/null || return 1
	[ -r "/proc/$1/cmdline" ] || return 0
	tr '\0' ' ' < "/proc/$1/cmdline" | grep -qF -- "--release $relfile " || return 1
}

# live_pid: print the pid of the stage's server; fail when none runs.
live_pid() {
	[ -f "$pidfile" ] || return 1
	_pid=$(cat "$pidfile")
	is_server "$_pid" || return 1
	echo "$_pid"
}

# stop_pid PID: stop the server PID and wait until it is gone: SIGTERM,
# up to 5 s, then SIGKILL, up to 1 s more. Fails when it outlives that.
stop_pid() {
	kill "$1" 2>/dev/null || return 0
	_i=0
	while is_server "$1"; do
		_i=$((_i + 1))
		[ "$_i" -ne 50 ] || kill -9 "$1" 2>/dev/null || true
		if [ "$_i" -ge 60 ]; then
			echo "web: stage $CAIRN_STAGE_PATH: server $1 does not stop" >&2
			return 1
		fi
		nap
	done
}

# stop_server: stop the stage's server, if one runs.
stop_server() {
	_pid=$(live_pid) || return 0
	stop_pid "$_pid"
}
