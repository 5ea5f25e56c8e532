# Crash safety: kill -9 at any moment, Ctrl-C, damaged state and cache.
# After each, the next build must equal a clean build.

# A graph of 40 slow-ish actions in 4 layers.
slow_graph() {
	ws
	for l in 0 1 2 3; do
		{
			for i in $(seq 0 9); do
				if [ $l = 0 ]; then
					echo "genrule { name = \"n$i\", srcs = { \"//seed:s.txt\" }, outs = { \"n$i.txt\" }, cmd = \"sleep 0.05; cat \$< > \$@; echo $l-$i >> \$@\" }"
				else
					p=$((l - 1))
					echo "genrule { name = \"n$i\", srcs = { \"//l$p:n$i\", \"//l$p:n$(( (i + 1) % 10 ))\" }, outs = { \"n$i.txt\" }, cmd = \"sleep 0.05; cat \$(SRCS) > \$@; echo $l-$i >> \$@\" }"
				fi
			done
		} | write l$l/BUILD.lua
	done
	write seed/BUILD.lua <<< ''
	echo seed > seed/s.txt
}

# The reference: a clean build in a copy with its own cache.
reference() {
	rm -rf ../ref && mkdir ../ref && cp -r WORKSPACE.lua seed l0 l1 l2 l3 ../ref/
	(cd ../ref && cairn build --cache-dir ../refcache >/dev/null && tree_sum cairn-out)
}

test_kill9_mid_build_then_rebuild_is_correct() {
	slow_graph
	want=$(reference)
	for delay in 0.1 0.25 0.4; do
		cairn clean --all >/dev/null
		rm -rf "$XDG_CACHE_HOME"
		"$CAIRN" build -j2 >/dev/null 2>&1 &
		pid=$!
		sleep $delay
		kill -9 $pid
		wait $pid || true
		# a partial output in place, as a killed action might leave
		[ -d cairn-out/l3 ] && echo partial > cairn-out/l3/n0.txt
		run 0 cairn build
		eq "$(tree_sum cairn-out)" "$want"
		run 0 cairn build
		summary 0 40 0
	done
}

test_kill9_during_edit_sequence() {
	slow_graph
	cairn build >/dev/null
	echo changed > seed/s.txt
	want=$(reference)
	"$CAIRN" build -j2 >/dev/null 2>&1 &
	pid=$!
	sleep 0.3
	kill -9 $pid
	wait $pid || true
	run 0 cairn build
	eq "$(tree_sum cairn-out)" "$want"
}

test_ctrl_c_stops_actions_and_exits_130() {
	ws
	write BUILD.lua <<'L'
genrule { name = "hang", outs = { "h.txt" }, cmd = "sleep 30 & sleep 31; echo > $@" }
L
	"$CAIRN" build >out.log 2>&1 &
	pid=$!
	for i in $(seq 50); do pgrep -f "sleep 31" >/dev/null && break; sleep 0.1; done
	pgrep -f "sleep 31" >/dev/null
	kill -INT $pid
	set +e; wait $pid; code=$?; set -e
	eq "$code" 130
	grep -q "cairn: interrupted" out.log
	sleep 0.2
	fails pgrep -f "sleep 3[01]" >/dev/null
	# state is consistent: the next build runs the action again
	write BUILD.lua <<'L'
genrule { name = "hang", outs = { "h.txt" }, cmd = "echo done > $@" }
L
	run 0 cairn build
	summary 1 0 0
}

test_background_process_does_not_hang_build() {
	ws
	write BUILD.lua <<'L'
genrule { name = "bg", outs = { "bg.txt" }, cmd = "(sleep 61.25 &) ; echo ok > $@" }
L
	start=$(date +%s)
	run 0 cairn build
	[ $(( $(date +%s) - start )) -lt 20 ]
	sleep 0.2
	fails pgrep -f "sleep 61.25" >/dev/null
}

test_corrupt_state_is_ignored_and_rebuilt() {
	slow_graph
	cairn build >/dev/null
	want=$(tree_sum cairn-out)
	for damage in truncate flip magic; do
		case $damage in
		truncate) head -c 100 .cairn/state > s && mv s .cairn/state ;;
		flip) python3 -c "
import sys; b = bytearray(open('.cairn/state','rb').read()); b[len(b)//2] ^= 1
open('.cairn/state','wb').write(b)" ;;
		magic) printf 'XXXXXXXX' | dd of=.cairn/state conv=notrunc 2>/dev/null ;;
		esac
		run 0 cairn build
		has "warning: .cairn/state is damaged"
		summary 0 40 0
		eq "$(tree_sum cairn-out)" "$want"
	done
}

test_corrupt_cache_entries_are_not_trusted() {
	slow_graph
	cairn build >/dev/null
	want=$(tree_sum cairn-out)
	cache=$XDG_CACHE_HOME/cairn
	# damage every blob and truncate every action result
	for f in $(find "$cache/cas" -type f); do echo garbage > "$f"; done
	for f in $(find "$cache/ac" -type f | head -20); do truncate -s 10 "$f"; done
	cairn clean >/dev/null
	run 0 cairn build
	summary 40 0 0
	eq "$(tree_sum cairn-out)" "$want"
	# and the store healed: a clean rebuild now comes from the cache
	cairn clean >/dev/null
	run 0 cairn build
	summary 0 40 0
}

test_two_processes_share_the_cache() {
	mkdir w1 w2
	(cd w1 && slow_graph)
	(cd w2 && slow_graph)
	(cd w1 && "$CAIRN" build -j2 >../o1 2>&1) &
	p1=$!
	(cd w2 && "$CAIRN" build -j2 >../o2 2>&1) &
	p2=$!
	wait $p1
	wait $p2
	eq "$(tree_sum w1/cairn-out)" "$(tree_sum w2/cairn-out)"
	(cd w1 && cairn clean >/dev/null && cairn build | tail -1) | grep -q "0 executed, 40 cached"
}

test_workspace_lock_serializes() {
	ws
	write BUILD.lua <<'L'
genrule { name = "s", outs = { "s.txt" }, cmd = "sleep 1; echo > $@" }
L
	"$CAIRN" build >o1 2>&1 &
	p1=$!
	sleep 0.3
	run 0 cairn build
	has "waiting for another cairn process in this workspace"
	summary 0 1 0
	wait $p1
}
