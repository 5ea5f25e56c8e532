# Black-box tests of --watch: rebuild on each change, new packages picked
# up, one summary per round, Ctrl-C exits 130.

# wait_for FILE TEXT: until FILE contains TEXT (10 s at most).
wait_for() {
	for _ in $(seq 100); do grep -qF "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done
	echo "timed out waiting for '$2' in $1:" >&2
	cat "$1" >&2
	return 1
}

# rounds N: until the log shows N summary lines.
rounds() {
	for _ in $(seq 100); do
		[ "$(grep -c '^cairn: [0-9]* actions' log)" -ge "$1" ] && return 0
		sleep 0.1
	done
	echo "fewer than $1 rounds:" >&2
	cat log >&2
	return 1
}

test_watch_rebuilds_on_changes() {
	ws
	write p/BUILD.lua <<'L'
genrule { name = "c", srcs = glob { "*.txt" }, outs = { "c.out" }, cmd = "cat $(SRCS) > $@" }
L
	echo one > p/a.txt
	"$CAIRN" build --watch >log 2>&1 &
	pid=$!
	wait_for log "watching for changes"
	eq "$(cat cairn-out/p/c.out)" one
	echo two > p/b.txt
	rounds 2
	eq "$(cat cairn-out/p/c.out)" "$(printf 'one\ntwo')"
	# a new package appears
	write q/BUILD.lua <<'L'
genrule { name = "q", outs = { "q.out" }, cmd = "echo q > $@" }
L
	for _ in $(seq 100); do [ -f cairn-out/q/q.out ] && break; sleep 0.1; done
	[ -f cairn-out/q/q.out ]
	# a broken build file is reported, and the watch goes on
	echo 'genrule {' > q/BUILD.lua
	wait_for log "q/BUILD.lua:2: error"
	write q/BUILD.lua <<'L'
genrule { name = "q", outs = { "q.out" }, cmd = "echo q2 > $@" }
L
	for _ in $(seq 100); do grep -q q2 cairn-out/q/q.out 2>/dev/null && break; sleep 0.1; done
	grep -q q2 cairn-out/q/q.out
	kill -INT $pid
	set +e; wait $pid; code=$?; set -e
	eq "$code" 130
	# one summary line per round
	[ "$(grep -c '^cairn: [0-9]* actions' log)" -ge 3 ]
}

test_watch_only_with_build_and_test() {
	ws
	run 2 cairn plan --watch
	has "--watch goes with build and test"
}
