#!/usr/bin/env bash
# Bazel's reference REAPI server, RemoteWorker (cache and execution), built
# from Debian's bazel-bootstrap-source against bazel-bootstrap's A-server.jar.
#
# In a test (bash; see tests/bb/peers.sh):
#   source "$TESTS/peers/remote_worker.sh"
#   netns_private          # first: the rest of the test runs in a network
#                          # namespace of its own (RemoteWorker binds every
#                          # interface, so it must not see the real ones)
#   remote_worker_start    # exports REMOTE_WORKER_PORT, REMOTE_WORKER_URL
#                          # (grpc://127.0.0.1:PORT), REMOTE_WORKER_PID,
#                          # REMOTE_WORKER_CAS, REMOTE_WORKER_WORK, REMOTE_WORKER_LOG
#   cairn build --remote_cache="$REMOTE_WORKER_URL" ...
#   remote_worker_stop [KILL]   # optional: the test's exit stops it anyway
# Extra arguments to remote_worker_start go to RemoteWorker (e.g. --jobs=2).
# Its habits: every call but GetCapabilities needs the
# build.bazel.remote.execution.v2.requestmetadata-bin header;
# BatchReadBlobs answers UNIMPLEMENTED (use ByteStream Read).
#
# As a command:
#   tests/peers/remote_worker.sh build      compile it (once) and print the class directory
#   tests/peers/remote_worker.sh run CMD... start it in a private network
#       namespace, run CMD there with REMOTE_WORKER_PORT and REMOTE_WORKER_URL
#       set, stop it; exits with CMD's status (for bench/ scripts)
#
# The classes are compiled once (about 5 s) into
# ${REMOTE_WORKER_CACHE:-build/peers/remote-worker}/KEY in the repository,
# KEY from the sources, the jar's package version and javac's version.
# The JVM takes REMOTE_WORKER_JAVA_OPTS (default: a 1 GiB heap, serial GC).

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

REMOTE_WORKER_SRC=${REMOTE_WORKER_SRC:-/usr/src/bazel-bootstrap/src/tools/remote/src/main/java/com/google/devtools/build/remote/worker}
REMOTE_WORKER_JAR=${REMOTE_WORKER_JAR:-/usr/share/bazel/A-server.jar}
REMOTE_WORKER_JAVA_OPTS=${REMOTE_WORKER_JAVA_OPTS:--Xms64m -Xmx1g -XX:+UseSerialGC}

# remote_worker_build: compile the classes if this version has none yet;
# sets and prints REMOTE_WORKER_CLASSES.
remote_worker_build() {
	peers_need java javac flock sha256sum dpkg-query "$REMOTE_WORKER_JAR" "$REMOTE_WORKER_SRC/RemoteWorker.java" || return 1
	local cache=${REMOTE_WORKER_CACHE:-$PEERS_TOP/build/peers/remote-worker} key tmp
	key=$( {
		find "$REMOTE_WORKER_SRC" -name '*.java' -print0 | sort -z | xargs -0 sha256sum
		dpkg-query -W -f='${Version}\n' bazel-bootstrap bazel-bootstrap-source 2>/dev/null
		javac -version 2>&1
		echo "$REMOTE_WORKER_JAR"
	} | sha256sum | cut -c1-16)
	REMOTE_WORKER_CLASSES=$cache/$key
	if [ ! -f "$REMOTE_WORKER_CLASSES/.done" ]; then
		mkdir -p "$cache"
		(
			flock -w 300 9 || { echo "peers: the lock $cache/.lock stayed taken" >&2; exit 1; }
			[ -f "$REMOTE_WORKER_CLASSES/.done" ] && exit 0
			tmp=$(mktemp -d "$cache/.build.XXXXXX")
			trap 'rm -rf "$tmp"' EXIT
			find "$REMOTE_WORKER_SRC" -name '*.java' -print0 | sort -z |
				xargs -0 timeout 300 javac -nowarn -J-Xmx1g -encoding UTF-8 \
					-cp "$REMOTE_WORKER_JAR" -d "$tmp/classes" >"$tmp/javac.log" 2>&1 ||
				{ echo "peers: javac failed on RemoteWorker:" >&2; tail -n 30 "$tmp/javac.log" >&2; exit 1; }
			rm -rf "$REMOTE_WORKER_CLASSES"
			mv "$tmp/classes" "$REMOTE_WORKER_CLASSES"
			: > "$REMOTE_WORKER_CLASSES/.done"
		) 9>"$cache/.lock" || return 1
	fi
	echo "$REMOTE_WORKER_CLASSES"
}

# remote_worker_start [ARG...]: start RemoteWorker on a free port of the
# private network namespace and wait (up to 60 s) until it answers.
remote_worker_start() {
	peers_here remote_worker_start || return 1
	[ "${CAIRN_NETNS:-}" = "$(readlink /proc/self/ns/net)" ] ||
		peers_fail "remote_worker_start: RemoteWorker binds every interface: call netns_private first in the test (a script: tests/peers/remote_worker.sh run CMD)" ||
		return 1
	remote_worker_build >/dev/null || return 1
	peers_dir
	local n=0 try
	while [ -e "$PEERS_DIR/remote_worker.$n" ]; do n=$((n + 1)); done
	local dir=$PEERS_DIR/remote_worker.$n
	mkdir -p "$dir/work" "$dir/cas"
	for try in 1 2 3; do
		REMOTE_WORKER_PORT=$(peers_free_port)
		REMOTE_WORKER_LOG=$dir/log
		# shellcheck disable=SC2086
		peers_spawn "$REMOTE_WORKER_LOG" java $REMOTE_WORKER_JAVA_OPTS \
			-cp "$REMOTE_WORKER_CLASSES:$REMOTE_WORKER_JAR" \
			com.google.devtools.build.remote.worker.RemoteWorker \
			--listen_port="$REMOTE_WORKER_PORT" --work_path="$dir/work" --cas_path="$dir/cas" "$@"
		REMOTE_WORKER_PID=$PEER_PID
		peers_wait_port "$REMOTE_WORKER_PORT" "$REMOTE_WORKER_PID" 60 "$REMOTE_WORKER_LOG" && break
		grep -q 'Address already in use' "$REMOTE_WORKER_LOG" && [ "$try" -lt 3 ] || return 1
		peers_stop "$REMOTE_WORKER_PID"
	done
	REMOTE_WORKER_URL=grpc://127.0.0.1:$REMOTE_WORKER_PORT
	REMOTE_WORKER_CAS=$dir/cas REMOTE_WORKER_WORK=$dir/work
	export REMOTE_WORKER_PORT REMOTE_WORKER_URL REMOTE_WORKER_PID REMOTE_WORKER_CAS REMOTE_WORKER_WORK REMOTE_WORKER_LOG
	echo "remote_worker: $REMOTE_WORKER_URL (pid $REMOTE_WORKER_PID, log $REMOTE_WORKER_LOG)" >&2
}

# remote_worker_stop [SIGNAL]: stop it (TERM; KILL for a crash mid-build).
remote_worker_stop() { peers_stop "$REMOTE_WORKER_PID" "${1:-TERM}"; }

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	set -eu
	case ${1:-} in
	build) remote_worker_build ;;
	run)
		shift
		[ $# -gt 0 ] || { echo "usage: $0 run CMD [ARG...]" >&2; exit 2; }
		if [ "${CAIRN_NETNS:-}" != "$(readlink /proc/self/ns/net)" ]; then
			exec "$PEERS_TOP/tests/peers/netns.sh" "$0" run "$@"
		fi
		remote_worker_start
		set +e
		"$@"
		exit $?
		;;
	*) echo "usage: $0 build | run CMD [ARG...]" >&2; exit 2 ;;
	esac
fi
