# Black-box tests of the example deployment //web:web (examples/web): a
# small HTTP server built from C, deployed with the `command` provider to
# three stages (canary, east, west), each a process of its own on a
# loopback port, its health an HTTP check (//web:health).
#
# Each test copies examples/ into the cwd and moves the three stages to
# ports free right now. The servers it starts are detached from cairn (that
# is the point of them); an EXIT trap stops them by the pids their stages
# recorded.

STAGES="canary east west"

# web_ws: the example workspace in the cwd, its stages on free ports
# (PORT_canary, PORT_east, PORT_west); its servers stopped on exit.
web_ws() {
	tar -C "$TESTS/../examples" --exclude=./cairn-out --exclude=./.cairn \
		--exclude=./stages --exclude=./compile_commands.json -cf - . | tar -xf -
	local ports s old
	read -r PORT_canary PORT_east PORT_west < <(free_ports 3)
	old=18081
	for s in $STAGES; do
		ports="PORT_$s"
		grep -q "\"$old\"" web/BUILD.lua
		sed -i "s/\"$old\"/\"${!ports}\"/" web/BUILD.lua
		old=$((old + 1))
	done
	trap stop_servers EXIT
	trap 'exit 143' TERM
	trap 'exit 130' INT
}

# free_ports N: print N TCP ports free on 127.0.0.1, all different (held
# together while they are chosen).
free_ports() {
	python3 -c 'import socket, sys
socks = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in socks: s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in socks))' "$1"
}

# gone PID: no process PID runs (a zombie does not run).
gone() { [ -z "$(tr -d '\0' < "/proc/$1/cmdline" 2>/dev/null)" ]; }

# server_pid STAGE: print the pid of the stage's running server; fail
# when none runs (a pid file naming a process gone, or a zombie, or another
# program, is no server).
server_pid() {
	local pid
	pid=$(cat "stages/$1/server.pid" 2>/dev/null) || return 1
	[ -n "$pid" ] && tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null |
		grep -qF -- "--release $PWD/stages/$1/release " || return 1
	echo "$pid"
}

# stop_servers: stop every stage's server, by its pid.
stop_servers() {
	local s pid
	for s in $STAGES; do
		if pid=$(server_pid "$s"); then kill "$pid" 2>/dev/null || true; fi
	done
}

# http PORT PATH: print "STATUS BODY" for GET PATH on 127.0.0.1:PORT;
# "000 reason" when nothing answers (never through a proxy).
http() {
	python3 - "$1" "$2" <<'P'
import sys, urllib.error, urllib.request
opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
try:
    r = opener.open("http://127.0.0.1:%s%s" % (sys.argv[1], sys.argv[2]), timeout=5)
    print(r.status, r.read().decode().strip())
except urllib.error.HTTPError as e:
    print(e.code, e.read().decode().strip())
except OSError as e:
    print("000", e)
P
}

# release_of STAGE: print the release its server serves ("000 ..." when none).
release_of() {
	local port="PORT_$1" ans
	ans=$(http "${!port}" /release)
	case $ans in "200 "*) echo "${ans#200 }" ;; *) echo "$ans" ;; esac
}

# deployed_everywhere: every stage serves one and the same release, a
# 64-hex digest, which cairn's output ($out) named (whole or abbreviated);
# it is left in $REL.
deployed_everywhere() {
	local s p
	REL=$(release_of canary)
	[[ $REL =~ ^[0-9a-f]{64}$ ]] || { echo "canary serves [$REL], no release digest" >&2; return 1; }
	for s in $STAGES; do
		eq "$(release_of "$s")" "$REL"
		eq "$(cat "stages/$s/release")" "$REL"
		server_pid "$s" > /dev/null
		p="PORT_$s"
		eq "$(http "${!p}" /healthz)" "200 ok"
	done
	has "${REL:0:12}"
}

test_deploy_to_three_stages() {
	web_ws
	run 0 cairn deploy //web:web
	deployed_everywhere
	local s
	for s in $STAGES; do has "$s"; done
	eq "$(http "$PORT_west" /)" "200 hello from cairn"
	# the provider's read says what runs
	eq "$(CAIRN_STAGE_PATH=$PWD/stages/east sh web/deploy/read.sh)" "$REL"
	run 0 cairn status //web:web
	for s in $STAGES; do has "$s"; done
	has "${REL:0:12}"
	lacks "drift"
}

test_deploy_again_changes_nothing() {
	web_ws
	run 0 cairn deploy //web:web
	deployed_everywhere
	local s before=() after=()
	for s in $STAGES; do before+=("$(server_pid "$s")"); done
	run 0 cairn deploy //web:web
	for s in $STAGES; do after+=("$(server_pid "$s")"); done
	eq "${after[*]}" "${before[*]}"
	eq "$(release_of canary)" "$REL"
}

test_unhealthy_release_rolls_back_the_canary_only() {
	web_ws
	run 0 cairn deploy //web:web
	deployed_everywhere
	local old=$REL east west
	east=$(server_pid east)
	west=$(server_pid west)
	sed -i 's/^healthy = true$/healthy = false/' web/site.conf
	grep -q '^healthy = false$' web/site.conf
	run 1 cairn deploy //web:web
	has "rolled back"
	# the canary was changed, failed its check, and serves the old release again
	eq "$(release_of canary)" "$old"
	eq "$(http "$PORT_canary" /healthz)" "200 ok"
	server_pid canary > /dev/null
	# east and west were never touched: the same processes, the same release
	eq "$(server_pid east)" "$east"
	eq "$(server_pid west)" "$west"
	eq "$(release_of east)" "$old"
	eq "$(release_of west)" "$old"
	run 0 cairn status //web:web
	local s
	for s in $STAGES; do has "$s"; done
	has "${old:0:12}"
	lacks "drift"
}

# Under a plain `cairn test` (and so `make setup`), the health check has
# no stage to check: it passes, saying so.
test_health_outside_a_deploy_passes_saying_so() {
	web_ws
	run 0 cairn test --test_output=all //web/...
	has "health: not deploying: nothing to check"
	row //web:health PASSED
	row //web:server_test PASSED
}

# The provider commands by themselves, as the provider runs them: apply
# starts the release's server and waits for it, read names what runs, a
# second apply replaces the server, a server that cannot start fails the
# apply, destroy stops it all.
test_provider_scripts() {
	web_ws
	run 0 cairn build //web:server //web:site_config //web:health
	local rel=$PWD/rel r1 r2 pid1 pid2
	mkdir -p "$rel"
	cp cairn-out/web/server web/site.conf "$rel/"
	chmod -R a-w "$rel"
	r1=$(printf '1%.0s' $(seq 64))
	r2=$(printf '2%.0s' $(seq 64))
	export CAIRN_STAGE=canary CAIRN_STAGE_PATH=$PWD/stages/canary \
		CAIRN_RELEASE_DIR=$rel PORT=$PORT_canary
	eq "$(sh web/deploy/read.sh)" ""
	# apply returns with the server running detached: $(...) ends
	run 0 env CAIRN_RELEASE="$r1" timeout 20 sh web/deploy/apply.sh
	pid1=$(server_pid canary)
	eq "$(sh web/deploy/read.sh)" "$r1"
	eq "$(release_of canary)" "$r1"
	run 0 env CAIRN_RELEASE="$r1" "$PWD/cairn-out/web/health"
	has "health: ok: stage canary"
	run 1 env CAIRN_RELEASE="$r2" "$PWD/cairn-out/web/health"
	has "live:     $r1"
	has "expected: $r2"
	run 0 env CAIRN_RELEASE="$r2" timeout 20 sh web/deploy/apply.sh
	pid2=$(server_pid canary)
	[ "$pid1" != "$pid2" ]
	eq "$(release_of canary)" "$r2"
	gone "$pid1"
	# a port already taken: the server exits, and the apply fails saying so
	run 0 sh web/deploy/destroy.sh
	python3 -c 'import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(); time.sleep(8)' "$PORT_canary" &
	local holder=$!
	sleep 0.5
	run 1 env CAIRN_RELEASE="$r1" timeout 20 sh web/deploy/apply.sh
	has "exited"
	has "Address already in use"
	eq "$(sh web/deploy/read.sh)" ""
	kill "$holder"
	wait "$holder" || true
	# a release whose configuration the server refuses: the same
	mkdir -p bad
	cp cairn-out/web/server bad/
	echo 'healthy = maybe' > bad/site.conf
	run 1 env CAIRN_RELEASE="$r1" CAIRN_RELEASE_DIR="$PWD/bad" timeout 20 sh web/deploy/apply.sh
	has "healthy must be true or false"
	eq "$(sh web/deploy/read.sh)" ""
	# destroy leaves no server and no release
	run 0 env CAIRN_RELEASE="$r1" timeout 20 sh web/deploy/apply.sh
	pid1=$(server_pid canary)
	run 0 sh web/deploy/destroy.sh
	gone "$pid1"
	[ ! -e stages/canary/release ]
	[ ! -e stages/canary/server.pid ]
	eq "$(sh web/deploy/read.sh)" ""
	eq "$(release_of canary | cut -c1-4)" "000 "
	run 1 env CAIRN_RELEASE="$r1" "$PWD/cairn-out/web/health"
	has "Connection refused"
}
