# Black-box tests of the sandbox: each attack is an action written to try
# it, and each must fail (or leave no trace) while the build still ends.

test_undeclared_source_is_hidden_and_named() {
	ws
	echo secret > p_secret.txt 2>/dev/null || true
	write p/BUILD.lua <<'L'
genrule { name = "x", srcs = { "in.txt" }, outs = { "x.txt" }, cmd = "cat p/secret.txt > $@" }
L
	echo in > p/in.txt; echo secret > p/secret.txt
	run 1 cairn build
	has "//p:x read 'p/secret.txt', which is not among its declared inputs"
	# the same action unsandboxed reads it: the sandbox made the difference
	run 0 cairn build --sandbox=none
}

test_other_package_file_is_hidden() {
	ws
	write q/BUILD.lua <<< 'genrule { name = "q", outs = { "q.txt" }, cmd = "echo q > $@" }'
	echo private > q/data.txt
	write p/BUILD.lua <<'L'
genrule { name = "x", srcs = { "//q" }, outs = { "x.txt" }, cmd = "cat q/data.txt $< > $@" }
L
	run 1 cairn build //p:x
	has "read 'q/data.txt'"
}

test_writes_outside_outputs_leave_no_trace() {
	ws
	write p/BUILD.lua <<'L'
genrule { name = "x", outs = { "x.txt" },
  cmd = "echo a > p/planted.txt; echo b > cairn-out/p/extra.txt; echo c > /tmp/cairn-escape; echo ok > $@" }
L
	rm -f /tmp/cairn-escape
	run 0 cairn build
	[ ! -e p/planted.txt ]
	[ ! -e cairn-out/p/extra.txt ]
	[ ! -e /tmp/cairn-escape ]
	[ -z "$(ls .cairn/sandbox/out 2>/dev/null)" ]
}

test_system_directories_are_read_only() {
	ws
	write BUILD.lua <<'L'
genrule { name = "x", outs = { "x.txt" }, cmd = "touch /usr/cairn-was-here; echo > $@" }
L
	run 0 cairn build
	has "Read-only file system"
	[ ! -e /usr/cairn-was-here ]
}

test_no_network_but_loopback() {
	ws
	python3 -m http.server 18181 --bind 127.0.0.1 >/dev/null 2>&1 &
	srv=$!
	for _ in $(seq 50); do (exec 3<>/dev/tcp/127.0.0.1/18181) 2>/dev/null && break; sleep 0.1; done
	cat > probe.py <<'P'
import socket, sys
try:
    socket.create_connection(("127.0.0.1", 18181), timeout=2)
    print("reached")
except OSError:
    print("blocked")
P
	write BUILD.lua <<'L'
genrule { name = "out", srcs = { "probe.py" }, outs = { "out.txt" }, cmd = "python3 $< > $@" }
genrule { name = "net", srcs = { "probe.py" }, outs = { "net.txt" }, tags = { "requires-network" },
  cmd = "python3 $< > $@" }
genrule { name = "lo", outs = { "lo.txt" },
  cmd = "python3 -c 'import socket; s = socket.socket(); s.bind((\"127.0.0.1\", 0)); s.listen(); c = socket.create_connection(s.getsockname()); print(\"lo up\")' > $@" }
L
	run 0 cairn build
	kill $srv
	eq "$(cat cairn-out/out.txt)" blocked
	eq "$(cat cairn-out/net.txt)" reached
	eq "$(cat cairn-out/lo.txt)" "lo up"
}

test_runaway_children_die_with_the_action() {
	ws
	write BUILD.lua <<'L'
genrule { name = "bomb", outs = { "b.txt" },
  cmd = "for i in 1 2 3 4 5 6; do (while :; do :; done) & done; (setsid sleep 300 &); echo done > $@" }
L
	start=$(date +%s)
	run 0 cairn build
	[ $(( $(date +%s) - start )) -lt 20 ]
	sleep 0.3
	fails pgrep -f "sleep 300" >/dev/null
	[ "$(pgrep -c -f 'while :' || true)" = 0 ]
}

test_symlink_output_is_refused() {
	ws
	write BUILD.lua <<'L'
genrule { name = "l", outs = { "l.txt" }, cmd = "ln -s /etc/passwd $@" }
L
	run 1 cairn build
	has "output 'cairn-out/l.txt' is a symlink, not a regular file: refused"
	[ ! -L cairn-out/l.txt ]
}

test_tags_are_part_of_the_key() {
	ws
	write BUILD.lua <<'L'
genrule { name = "x", outs = { "x.txt" }, cmd = "echo x > $@" }
L
	run 0 cairn build
	sed -i 's/cmd =/tags = { "no-sandbox" }, cmd =/' BUILD.lua
	run 0 cairn build --explain
	summary 1 0 0
	has "command changed"
}

test_sandbox_modes() {
	ws
	write BUILD.lua <<'L'
genrule { name = "x", outs = { "x.txt" }, cmd = "echo x > $@" }
L
	run 0 cairn build --sandbox=none
	run 0 cairn build --sandbox=auto
	# the sandbox is part of the key: a sandboxed build reruns
	summary 1 0 0
	run 2 cairn build --sandbox=maybe
	has "--sandbox wants strict, auto or none"
}

test_auto_probe_leaves_nothing_in_tmp() {
	ws
	write BUILD.lua <<'L'
genrule { name = "x", outs = { "x.txt" }, cmd = "echo x > $@" }
L
	before=$(find /tmp -maxdepth 1 -name 'cairn-probe-*' | sort)
	run 0 cairn build --sandbox=auto
	summary 1 0 0
	after=$(find /tmp -maxdepth 1 -name 'cairn-probe-*' | sort)
	eq "$after" "$before"
}

test_unprivileged_user() {
	[ "$(id -u)" = 0 ] || return 0 # needs root to become another user
	# a directory "nobody" can reach (the test's own is private)
	d=$(mktemp -d /tmp/cairn-nobody.XXXXXX)
	trap 'rm -rf "$d"' EXIT
	chmod 755 "$d"
	cd "$d"
	ws
	write p/BUILD.lua <<'L'
genrule { name = "x", srcs = { "in.txt" }, outs = { "x.txt" }, cmd = "cat $< > $@; cat p/secret.txt >> $@ 2>/dev/null || echo hidden >> $@" }
L
	echo in > p/in.txt; echo secret > p/secret.txt
	chown -R 65534:65534 .
	run 0 setpriv --reuid=65534 --regid=65534 --clear-groups \
		env HOME="$PWD" XDG_CACHE_HOME="$PWD/.cache" "$CAIRN" build
	eq "$(cat cairn-out/p/x.txt)" "$(printf 'in\nhidden')"
	eq "$(stat -c %U cairn-out/p/x.txt)" nobody
}

test_tests_run_sandboxed_with_their_data() {
	ws
	write t/BUILD.lua <<'L'
sh_test { name = "t", srcs = { "t.sh" }, data = { "d.txt" } }
L
	write t/t.sh <<'L'
cat t/d.txt && ! cat t/other.txt 2>/dev/null && touch "$TEST_TMPDIR/ok"
L
	echo data > t/d.txt; echo other > t/other.txt
	run 0 cairn test
	row //t:t PASSED
}

test_no_namespaces_strict_fails_auto_falls_back() {
	ws
	write BUILD.lua <<'L'
genrule { name = "x", outs = { "x.txt" }, cmd = "echo x > $@" }
genrule { name = "y", outs = { "y.txt" }, cmd = "echo y > $@" }
L
	CAIRN_HOOK_NO_NAMESPACES=1 run 1 cairn_hooks build
	has "cannot sandbox actions: namespaces disabled by CAIRN_HOOK_NO_NAMESPACES"
	has "--sandbox=auto"
	CAIRN_HOOK_NO_NAMESPACES=1 run 0 cairn_hooks build --sandbox=auto
	eq "$(printf '%s\n' "$out" | grep -c 'warning: no sandbox')" 1
	summary 2 0 0
}

test_undeclared_root_file_is_named() {
	ws
	echo secret > secret.txt
	write BUILD.lua <<'L'
genrule { name = "x", outs = { "x.txt" }, cmd = "cat secret.txt > $@" }
L
	run 1 cairn build
	has "//:x read 'secret.txt', which is not among its declared inputs"
}

test_test_tmpdir_is_absolute() {
	ws
	write t/BUILD.lua <<'L'
sh_test { name = "t", srcs = { "t.sh" } }
L
	write t/t.sh <<'L'
case $TEST_TMPDIR in /*) ;; *) echo "relative: $TEST_TMPDIR"; exit 1 ;; esac
cd / && touch "$TEST_TMPDIR/ok"
L
	run 0 cairn test
	row //t:t PASSED
}

test_host_name_is_each_actions_own() {
	ws
	write p/BUILD.lua <<'L'
genrule { name = "a", outs = { "a.out" },
  cmd = "hostname cairn-was-here 2>/dev/null || unshare -Uru sh -c 'hostname cairn-was-here && uname -n' > $@" }
genrule { name = "b", srcs = { ":a" }, outs = { "b.out" }, cmd = "uname -n > $@" }
L
	run 0 cairn build
	# the action holds no capability to change it: only in namespaces of
	# its own
	eq "$(cat cairn-out/p/a.out)" cairn-was-here
	# neither the next action nor the host sees it
	eq "$(cat cairn-out/p/b.out)" "$(uname -n)"
	[ "$(uname -n)" != cairn-was-here ]
}

test_spawn_failure_on_a_worker_fails_the_action() {
	ws
	write p/BUILD.lua <<'L'
genrule { name = "a", outs = { "a.out" }, cmd = "echo a > $@" }
genrule { name = "b", outs = { "b.out" }, cmd = "echo b > $@" }
genrule { name = "c", outs = { "c.out" }, cmd = "echo c > $@" }
L
	# the first sandboxed spawn sets the sandbox up on the build loop's
	# thread; the others go to the spawner's threads, which here fail
	CAIRN_HOOK_SPAWNER_FAILS=1 run 1 cairn_hooks build -k -j1
	has "cannot start a sandbox: Resource temporarily unavailable"
	summary 1 0 2
	run 0 cairn build
	summary 2 1 0
	eq "$(cat cairn-out/p/a.out cairn-out/p/b.out cairn-out/p/c.out)" "$(printf 'a\nb\nc')"
}
