#!/bin/sh
# Provider `apply` of //web:web: run release $CAIRN_RELEASE in the stage.
# Stops the stage's server, starts the release's server on 127.0.0.1:$PORT
# straight from $CAIRN_RELEASE_DIR (nothing is copied: the release
# directory is immutable), and waits until it answers /release with the
# release. Exit 1 when it does not; the stage is then left without a
# server, and cairn rolls it back by applying the previous release.
set -eu
. "$(dirname "$0")/lib.sh"
: "${PORT:?is not set}" "${CAIRN_RELEASE:?is not set}" "${CAIRN_RELEASE_DIR:?is not set}"

mkdir -p "$CAIRN_STAGE_PATH"
stop_server
rm -f "$pidfile"
# the new server reads this on each GET /release; written whole (rename)
printf '%s\n' "$CAIRN_RELEASE" > "$relfile.tmp"
mv -f "$relfile.tmp" "$relfile"

log=$CAIRN_STAGE_PATH/server.log
printf 'apply: release %s on port %s\n' "$CAIRN_RELEASE" "$PORT" >> "$log"
# Detached from cairn: its own session (setsid), so that neither the end of
# this command nor a signal to cairn's process group stops it, and no
# descriptor of cairn's (stdin, the output pipes) held open. This shell
# runs no job control, so the subshell is no process group leader:
# setsid(1) then calls setsid(2) itself instead of forking, and $! is
# the server's pid.
detach="nohup"
if command -v setsid > /dev/null 2>&1; then detach="setsid"; fi
(
	cd "$CAIRN_STAGE_PATH"
	exec $detach "$CAIRN_RELEASE_DIR/server" --port "$PORT" \
		--config "$CAIRN_RELEASE_DIR/site.conf" --release "$relfile" \
		< /dev/null >> "$log" 2>&1
) &
pid=$!
echo "$pid" > "$pidfile.tmp"
mv -f "$pidfile.tmp" "$pidfile"

# ready: the server is up and answers with this release (and not, say,
# some other process that holds the port); about 5 s at most
i=0
while :; do
	got=$("$CAIRN_RELEASE_DIR/server" --port "$PORT" --get /release 2>/dev/null) || got=
	[ "$got" != "$CAIRN_RELEASE" ] || break
	i=$((i + 1))
	if ! is_server "$pid" || [ "$i" -ge 50 ]; then
		why=exited
		if is_server "$pid"; then why="does not answer on 127.0.0.1:$PORT"; fi
		echo "web: stage ${CAIRN_STAGE:-?}: server of release $CAIRN_RELEASE $why; the end of $log:" >&2
		tail -n 5 "$log" >&2
		stop_pid "$pid" || true
		rm -f "$pidfile"
		exit 1
	fi
	nap
done
echo "web: stage ${CAIRN_STAGE:-?}: release $CAIRN_RELEASE live on 127.0.0.1:$PORT (pid $pid)"
