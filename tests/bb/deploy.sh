# Deployments (SPEC section 7): the deployment{} rule, cairn deploy,
# status, rollback and reconcile, on the dir and command providers. The
# stages are directories under the test's cwd and health checks are
# sh_tests, so nothing here needs the network.

# web_ws "STAGE..." [FIELDS]: a workspace whose //:web deploys :app
# (app.txt, a copy of ver.txt) and :conf (conf.txt) with the dir provider
# to $PWD/stages/STAGE for each STAGE ("b+" is stage b with approval),
# health :health (health.sh, see health_ok) and the Lua fields FIELDS.
web_ws() {
	ws
	local s stages=""
	for s in $1; do
		case $s in
		*+) stages="$stages    { name = \"${s%+}\", path = \"$PWD/stages/${s%+}\", approval = true },
" ;;
		*) stages="$stages    { name = \"$s\", path = \"$PWD/stages/$s\" },
" ;;
		esac
	done
	write BUILD.lua <<L
genrule { name = "app", srcs = { "ver.txt" }, outs = { "app.txt" }, cmd = "cat \$< > \$@" }
genrule { name = "conf", outs = { "conf.txt" }, cmd = "echo conf > \$@" }
sh_test { name = "health", srcs = { "health.sh" } }
deployment {
  name = "web",
  artifacts = { ":app", ":conf" },
  provider = "dir",
  stages = {
$stages  },
  health = ":health",
  ${2:-}
}
L
	echo A > ver.txt
	health_ok
}

# health_ok [SLEEP]: the health check (after sleeping SLEEP seconds, or
# 0-30 ms with "random") passes when the stage's current is the release
# under test and its app.txt does not say "bad". A new file each time:
# a check that is running keeps its own.
health_ok() {
	local nap=""
	case ${1:-} in
	"") ;;
	random) nap='sleep "0.0$(od -An -N1 -tu1 /dev/urandom | awk "{ printf \"%02d\", \$1 % 31 }")"' ;;
	*) nap="sleep $1" ;;
	esac
	cat > health.sh.new <<H
$nap
[ "\$(readlink "\$CAIRN_STAGE_PATH/current")" = "releases/\$CAIRN_RELEASE" ] || exit 1
! grep -q bad "\$CAIRN_STAGE_PATH/current/app.txt"
H
	mv health.sh.new health.sh
}

# rel STAGE: the full release digest STAGE's current points at.
rel() {
	local l
	l=$(readlink "stages/$1/current")
	case $l in releases/*) printf '%s\n' "${l#releases/}" ;; *) echo "bad link: $l" >&2; return 1 ;; esac
}

# stamp STAGE: inode and mtime of STAGE's current symlink itself.
stamp() { stat -c '%i %Y.%y' "stages/$1/current"; }

# desired STAGE: the desired release cairn status --json gives for STAGE.
desired() {
	cairn status --json | grep -oE "\"name\": \"$1\", \"desired\": \"[0-9a-f]*\"" |
		sed 's/.*"desired": "//; s/"$//'
}

# ms: the time in milliseconds.
ms() { echo $(( $(date +%s%N) / 1000000 )); }

# wait_for FILE TEXT: wait (up to 20 s) until FILE holds TEXT.
wait_for() {
	local i
	for i in $(seq 200); do
		grep -q "$2" "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	echo "never saw '$2' in $1:" >&2; cat "$1" >&2
	return 1
}

# Bad input: each mistake in a deployment{} is exit 2 naming its line.
test_bad_input_names_the_line() {
	ws
	while IFS='|' read -r fields want; do
		write BUILD.lua <<L
genrule { name = "app", outs = { "app.txt" }, cmd = "echo v > \$@" }

deployment { name = "web", artifacts = { ":app" },
  $fields }
L
		run 2 cairn deploy //:web
		has "BUILD.lua:3: error: "
		has "$want"
		lacks "applied"
	done <<'C'
provider = "ftp", stages = { { name = "a", path = "/tmp/x" } }|unknown provider 'ftp'
provider = "dir", stages = {}|a deployment needs at least one stage
provider = "dir", stages = { { name = "a", path = "/x" }, { name = "a", path = "/y" } }|duplicate stage name 'a'
provider = "dir", stages = { { name = "a", path = "/x", colour = 1 } }|stage 1: unknown field 'colour'
provider = "dir", stages = { { name = "a b", path = "/x" } }|stage 1: 'name' must be a word
provider = "dir", stages = { { name = "a" } }|stage 'a': provider "dir" needs a 'path'
provider = "dir", stages = { { name = "a", path = "/x", approval = "yes" } }|'approval' must be true or false
provider = "dir", stages = { { name = "a", path = "/x", env = { CAIRN_X = "1" } } }|'env' must map names
provider = "dir", stages = "a"|'stages' must be a list of tables
provider = "command", stages = { { name = "a" } }|needs 'apply' and 'read'
provider = "dir", stages = { { name = "a", path = "/x" } }, health = ":app"|health //:app is not a test target
provider = "dir", stages = { { name = "a", path = "/x" } }, requires_tests = { ":app" }|requires_tests: //:app is not a test target
C
	run 0 cairn status
	lacks "//:web"
}

# Happy path: three stages end at one release whose files are the
# artifacts; deploying again changes nothing; status sees no drift.
test_happy_path_three_stages_then_noop() {
	web_ws "a b c"
	# the check also proves it sees its stage read-only
	cat >> health.sh <<'H'
if touch "$CAIRN_STAGE_PATH/probe" 2>/dev/null; then echo "stage is writable"; exit 1; fi
H
	run 0 cairn deploy //:web
	has "a            (none) -> "
	has "cairn: //:web a: health passed"
	has "cairn: //:web c: health passed"
	r=$(rel a)
	[ ${#r} = 64 ]
	eq "$(rel b)" "$r"
	eq "$(rel c)" "$r"
	for s in a b c; do
		cmp stages/$s/current/app.txt cairn-out/app.txt
		cmp stages/$s/current/conf.txt cairn-out/conf.txt
		eq "$(ls stages/$s/current | tr '\n' ' ')" "app.txt conf.txt "
	done
	has "release ${r:0:12}, 3 stages"
	run 0 cairn deploy //:web
	eq "$(printf '%s\n' "$out" | grep -c '^  [a-c]  *unchanged$')" 3
	lacks "applied"
	lacks " -> "
	has "3 stages at ${r:0:12}, all unchanged"
	run 0 cairn status
	has "//:web"
	lacks " drift "
	eq "$(printf '%s\n' "$out" | grep -c "${r:0:12} ${r:0:12} -  ")" 3
	run 0 cairn status --json
	has "\"drift\": false"
	lacks "\"drift\": true"
	eq "$(desired b)" "$r"
}

# A canary that fails its health check is rolled back, exit 1; the
# stages after it are never touched.
test_failed_canary_rolls_back_and_spares_the_rest() {
	web_ws "a b c"
	run 0 cairn deploy //:web
	old=$(rel a)
	sb=$(stamp b) sc=$(stamp c)
	sleep 1.1 # a touched link would show a new mtime
	echo bad > ver.txt
	run 1 cairn deploy //:web
	has "a: the health check failed"
	has "FAILED: rolled back 1 stage to its previous release"
	has "cairn: //:web a: rolled back to ${old:0:12}"
	lacks "cairn: //:web b: applied"
	eq "$(rel a)" "$old"
	grep -qx A stages/a/current/app.txt
	eq "$(stamp b)" "$sb"
	eq "$(stamp c)" "$sc"
	eq "$(ls stages/b/releases)" "$old"
	run 0 cairn status
	lacks " drift "
	eq "$(desired a)" "$old"
}

# A failure in a parallel group after the canary rolls back every stage
# the rollout changed: the canary and the whole group.
test_failed_parallel_group_rolls_back_all() {
	web_ws "a b c d" 'canary = 1, max_parallel = 2,'
	echo '! { [ "$CAIRN_STAGE" = c ] && grep -q B "$CAIRN_STAGE_PATH/current/app.txt"; }' >> health.sh
	run 0 cairn deploy //:web
	old=$(rel a)
	sd=$(stamp d)
	echo B > ver.txt
	run 1 cairn deploy //:web
	has "c: the health check failed"
	has "FAILED: rolled back 3 stages to their previous release"
	lacks "d: applied"
	for s in a b c d; do eq "$(rel $s)" "$old"; eq "$(desired $s)" "$old"; done
	eq "$(stamp d)" "$sd"
}

# A required test that fails stops the deploy before anything is applied.
test_failing_required_test_applies_nothing() {
	web_ws "a b" 'requires_tests = { ":unit" },'
	cat >> BUILD.lua <<'L'
sh_test { name = "unit", srcs = { "unit.sh" } }
L
	echo 'exit 1' > unit.sh
	run 1 cairn deploy //:web
	has "cairn: not deploying"
	lacks "applied"
	[ ! -e stages ]
	echo 'exit 0' > unit.sh
	run 0 cairn deploy //:web
	has "cairn: //:web b: applied"
}

# --plan shows the change set and applies nothing.
test_plan_applies_nothing() {
	web_ws "a b"
	run 0 cairn deploy //:web --plan
	has "a            (none) -> "
	[ ! -e stages ]
	run 0 cairn status
	lacks "//:web"
	run 0 cairn deploy //:web
	old=$(rel a) sa=$(stamp a)
	echo B > ver.txt
	run 0 cairn deploy //:web --plan
	has "a            ${old:0:12} -> "
	has "b            ${old:0:12} -> "
	lacks "applied"
	eq "$(rel a)" "$old"
	eq "$(stamp a)" "$sa"
	eq "$(ls stages/a/releases)" "$old"
	eq "$(desired a)" "$old"
}

# approval = true pauses before the stage (exit 0) until --promote;
# --abort rolls the paused rollout back; another release must wait.
test_approval_pause_promote_abort() {
	web_ws "a b+ c"
	run 0 cairn deploy //:web
	has "b            (none) -> "
	has "(needs approval)"
	has "paused before b, waiting for approval"
	r1=$(rel a)
	[ ! -e stages/b/current ] && [ ! -e stages/c/current ]
	run 0 cairn deploy //:web
	has "paused at b, waiting for approval"
	lacks "applied"
	echo B > ver.txt
	run 2 cairn deploy //:web
	has "is paused at b; finish it with --promote or --abort"
	[ ! -e stages/b/current ]
	echo A > ver.txt
	run 0 cairn deploy //:web --promote
	has "cairn: //:web b: applied"
	has "cairn: //:web c: applied"
	eq "$(rel b)" "$r1"
	eq "$(rel c)" "$r1"
	run 2 cairn deploy //:web --promote
	has "no rollout is waiting for approval"
	# the next release pauses at b again, then is aborted
	echo B > ver.txt
	run 0 cairn deploy //:web
	has "paused before b"
	[ "$(rel a)" != "$r1" ]
	eq "$(rel b)" "$r1"
	run 0 cairn deploy //:web --abort
	has "aborted: 1 stage rolled back"
	for s in a b c; do eq "$(rel $s)" "$r1"; eq "$(desired $s)" "$r1"; done
	grep -qx A stages/a/current/app.txt
	# nothing is paused any more: the release rolls out again from a
	run 0 cairn deploy //:web
	has "paused before b"
}

# Fast rollback: a release that passed its health and bake at a stage
# skips the bake there when it comes back; one that never passed there
# bakes (b below, where B failed).
test_fast_rollback_skips_bake_only_where_passed() {
	web_ws "a b" 'bake = 2, interval = 1, canary = 1,'
	# B fails at b, until health_ok below
	echo '! { [ "$CAIRN_STAGE" = b ] && grep -q B "$CAIRN_STAGE_PATH/current/app.txt"; }' >> health.sh
	run 0 cairn deploy //:web
	has "baking 1 stage for 2 s"
	ra=$(rel a)
	echo B > ver.txt
	run 1 cairn deploy //:web # B passes at a, fails at b
	has "b: the health check failed"
	lacks "passed here before"
	eq "$(rel a)" "$ra"
	eq "$(rel b)" "$ra"
	# b's check passes now (health.sh is not in the release)
	health_ok
	t0=$(ms)
	run 0 cairn deploy //:web
	t=$(( $(ms) - t0 ))
	# a, where B passed, skips the bake; b, where it never passed, bakes
	eq "$(printf '%s\n' "$out" | grep -c 'passed here before')" 1
	printf '%s\n' "$out" | grep -q "cairn: //:web a: .* passed here before: no bake"
	has "baking 1 stage for 2 s"
	[ "$t" -ge 2000 ]
	[ "$(rel a)" != "$ra" ]
	eq "$(rel b)" "$(rel a)"
	# back to A: it passed at both stages, so no bake at all
	echo A > ver.txt
	t0=$(ms)
	run 0 cairn deploy //:web
	t=$(( $(ms) - t0 ))
	eq "$(printf '%s\n' "$out" | grep -c 'passed here before: no bake')" 2
	lacks "baking"
	[ "$t" -lt 2000 ]
	eq "$(rel b)" "$ra"
	# and a release never seen anywhere bakes everywhere
	echo C > ver.txt
	run 0 cairn deploy //:web
	lacks "passed here before"
	eq "$(printf '%s\n' "$out" | grep -c 'baking 1 stage')" 2
}

# cairn rollback: to each stage's previous release, one stage, or a named
# release; no build (the build file may be broken); an unknown one is exit 2.
test_rollback_previous_stage_and_named() {
	web_ws "a b"
	run 0 cairn deploy //:web
	ra=$(rel a)
	echo B > ver.txt
	run 0 cairn deploy //:web
	rb=$(rel a)
	echo C > ver.txt
	run 0 cairn deploy //:web
	rc=$(rel a)
	echo 'this is not lua (' > BUILD.lua
	run 0 cairn rollback //:web
	has "rolled back ${rc:0:12} -> ${rb:0:12}"
	eq "$(rel a)" "$rb"
	eq "$(rel b)" "$rb"
	grep -qx B stages/b/current/app.txt
	run 0 cairn rollback //:web --stage b --to "${ra:0:8}"
	eq "$(rel a)" "$rb"
	eq "$(rel b)" "$ra"
	eq "$(desired b)" "$ra"
	run 0 cairn rollback //:web --to "${rc:0:12}"
	eq "$(rel a)" "$rc"
	eq "$(rel b)" "$rc"
	grep -qx C stages/a/current/app.txt
	run 2 cairn rollback //:web --to ffff
	has "never had a release 'ffff'"
	run 2 cairn rollback //:web --stage nope
	has "has no stage 'nope'"
	run 2 cairn rollback //:other
	has "was never deployed"
	eq "$(rel a)" "$rc"
	run 0 cairn status
	lacks " drift "
}

# Drift made by hand (a file edited under current, current re-pointed
# inside and outside releases/) shows in status; reconcile repairs it.
test_drift_then_reconcile() {
	web_ws "a b c"
	run 0 cairn deploy //:web
	old=$(rel a)
	echo B > ver.txt
	run 0 cairn deploy //:web
	new=$(rel a)
	chmod u+w stages/a/current/app.txt
	echo hacked > stages/a/current/app.txt
	ln -sfn "releases/$old" stages/b/current
	mkdir -p elsewhere
	ln -sfn "$PWD/elsewhere" stages/c/current
	run 0 cairn status
	eq "$(printf '%s\n' "$out" | grep -c ' drift ')" 3
	has "a file's bytes changed"
	has "current points outside releases/"
	printf '%s\n' "$out" | grep -q "^  b  .* ${old:0:12} drift "
	run 0 cairn reconcile
	has "3 stages repaired"
	for s in a b c; do
		eq "$(rel $s)" "$new"
		grep -qx B stages/$s/current/app.txt
	done
	run 0 cairn status
	lacks " drift "
	run 0 cairn reconcile
	has "0 stages repaired"
	# --every loops until Ctrl-C, then exits 130
	"$CAIRN" reconcile --every 1 > every.log 2>&1 &
	pid=$!
	wait_for every.log "repaired"
	kill -INT $pid
	set +e; wait $pid; code=$?; set -e
	eq "$code" 130
}

# Two deploys of one deployment: the second says who holds the lock and
# exits 1, or with --lock-timeout waits for it and then succeeds.
test_concurrent_deploys_lock() {
	web_ws "a"
	health_ok 3
	"$CAIRN" deploy //:web > first.log 2>&1 &
	pid=$!
	wait_for first.log "a: applied"
	run 1 cairn deploy //:web
	has "//:web is locked by pid $pid on "
	has "--lock-timeout SECONDS waits for it"
	kill -0 $pid # still running: the next one must wait
	run 0 cairn deploy //:web --lock-timeout 30
	has "waiting for //:web: locked by pid $pid"
	has "a            unchanged"
	set +e; wait $pid; code=$?; set -e
	eq "$code" 0
	grep -q "1 stage at" first.log
}

# A deploy killed with kill -9 leaves its lock behind; the next deploy
# takes it over by itself and finishes the job.
test_stale_lock_taken_over() {
	web_ws "a b"
	health_ok 5
	"$CAIRN" deploy //:web > first.log 2>&1 &
	pid=$!
	wait_for first.log "a: applied"
	kill -9 $pid
	wait $pid || true
	health_ok
	run 0 cairn deploy //:web
	lacks "locked by"
	has "was cut off"
	r=$(rel a)
	eq "$(rel b)" "$r"
	eq "$(desired b)" "$r"
}

# kill -9 at random moments of a 5-stage rollout (canary 1, max_parallel
# 2), DEPLOY_KILL_ROUNDS times (default 50), half the time followed by a
# deploy of the other release: each time that deploy completes, and every
# stage is one whole release (never a mix), the one status gives.
test_kill9_rounds_leave_whole_releases() {
	web_ws "s1 s2 s3 s4 s5" 'canary = 1, max_parallel = 2,'
	health_ok random
	local rels=() sums=() i v s
	for v in 0 1; do
		echo "V$v" > ver.txt
		run 0 cairn deploy //:web
		rels[$v]=$(rel s1)
		sums[$v]=$(tree_sum stages/s1/current/)
	done
	[ "${rels[0]}" != "${rels[1]}" ]
	for i in $(seq "${DEPLOY_KILL_ROUNDS:-50}"); do
		v=$(( i % 2 ))
		echo "V$v" > ver.txt
		"$CAIRN" deploy //:web > killed.log 2>&1 &
		pid=$!
		sleep "0.$(printf '%03d' $(( RANDOM % 300 )))"
		kill -9 $pid 2>/dev/null || true
		wait $pid || true
		if [ $(( RANDOM % 2 )) = 0 ]; then v=$(( 1 - v )); echo "V$v" > ver.txt; fi
		if ! run 0 cairn deploy //:web; then echo "round $i; killed: $(cat killed.log)" >&2; return 1; fi
		for s in s1 s2 s3 s4 s5; do
			eq "$(rel $s)" "${rels[$v]}"
			eq "$(tree_sum stages/$s/current/)" "${sums[$v]}"
			eq "$(desired $s)" "${rels[$v]}"
		done
	done
	run 0 cairn status
	lacks " drift "
}

# A corrupt state.db, or one written by a newer cairn, is a clear error
# (exit 2) and is left byte for byte as it was.
test_corrupt_or_future_state_db_left_alone() {
	web_ws "a"
	run 0 cairn deploy //:web
	[ ! -s .cairn/state.db-wal ]
	cp .cairn/state.db good.db
	head -c 8192 /dev/urandom > .cairn/state.db
	rm -f .cairn/state.db-wal .cairn/state.db-shm
	before=$(sha256sum < .cairn/state.db)
	for cmd in "status" "deploy //:web" "rollback //:web" "reconcile"; do
		run 2 cairn $cmd
		has "state.db: not a cairn state store"
		eq "$(sha256sum < .cairn/state.db)" "$before"
	done
	# a good header over garbage pages
	{ head -c 100 good.db; head -c 40000 /dev/urandom; } > .cairn/state.db
	before=$(sha256sum < .cairn/state.db)
	for cmd in "status" "deploy //:web"; do
		run 2 cairn $cmd
		has "state.db"
		has "malformed"
		eq "$(sha256sum < .cairn/state.db)" "$before"
	done
	# schema 99: user_version is the big-endian int at byte 60
	cp good.db .cairn/state.db
	printf '\000\000\000\143' | dd of=.cairn/state.db bs=1 seek=60 conv=notrunc 2>/dev/null
	before=$(sha256sum < .cairn/state.db)
	for cmd in "status" "deploy //:web" "rollback //:web" "reconcile"; do
		run 2 cairn $cmd
		has "written by a newer cairn (schema 99"
		eq "$(sha256sum < .cairn/state.db)" "$before"
	done
	# a good one again works
	cp good.db .cairn/state.db
	run 0 cairn status
	has "//:web"
}

# The deploy commands' errors say "error:" once, as every other error.
test_deploy_errors_say_error_once() {
	web_ws "a"
	mkdir -p .cairn
	echo "not a database, not at all; just some text that is long enough" > .cairn/state.db
	run 2 cairn status
	has "cairn: error: .cairn/state.db: not a cairn state store"
	lacks "error: error:"
}

# gc --max-size 0 keeps the bytes of kept releases: a rollback after it
# restores the old release from the store; clean --all keeps state.db.
test_gc_keeps_releases_clean_keeps_state() {
	web_ws "a"
	run 0 cairn deploy //:web
	ra=$(rel a)
	echo B > ver.txt
	run 0 cairn deploy //:web
	rb=$(rel a)
	run 0 cairn gc --max-size 0
	rm -rf .cairn/releases "stages/a/releases/$ra" cairn-out
	run 0 cairn rollback //:web
	has "rolled back ${rb:0:12} -> ${ra:0:12}"
	eq "$(rel a)" "$ra"
	grep -qx A stages/a/current/app.txt
	grep -qx conf stages/a/current/conf.txt
	sum=$(sha256sum < .cairn/state.db)
	run 0 cairn clean --all
	[ -f .cairn/state.db ]
	eq "$(sha256sum < .cairn/state.db)" "$sum"
	run 0 cairn status
	has "//:web"
	lacks " drift "
	eq "$(desired a)" "$ra"
}

# cmd_ws [BEFORE] [AFTER] [FIELDS]: //:svc with the command provider on
# stages x and y: apply (BEFORE; ...; AFTER) copies the artifacts into the
# stage path and records the release in its file "live", which read
# prints; plus the Lua fields FIELDS.
cmd_ws() {
	ws
	write BUILD.lua <<L
genrule { name = "app", srcs = { "ver.txt" }, outs = { "app.txt" }, cmd = "cat \$< > \$@" }
deployment {
  name = "svc",
  artifacts = { ":app" },
  provider = "command",
  apply = [[${1:-true}; mkdir -p "\$CAIRN_STAGE_PATH" && cp -f \$CAIRN_ARTIFACTS "\$CAIRN_STAGE_PATH/" && echo "\$COLOUR" > "\$CAIRN_STAGE_PATH/colour" && echo "\$CAIRN_RELEASE" > "\$CAIRN_STAGE_PATH/live" && ${2:-true}]],
  read = [[cat "\$CAIRN_STAGE_PATH/live" 2>/dev/null || true]],
  stages = {
    { name = "x", path = "$PWD/stages/x", env = { COLOUR = "red" } },
    { name = "y", path = "$PWD/stages/y", env = { COLOUR = "blue" } },
  },
  ${3:-}
}
L
	[ -e ver.txt ] || echo A > ver.txt
}

# live STAGE: what the command provider's stage holds.
live() { cat "stages/$1/live"; }

# Command provider: apply and read with the stage's environment; status
# asks read; a command past its timeout fails the step, exit 1, rolled back.
test_command_provider_apply_read_timeout() {
	cmd_ws
	run 0 cairn deploy //:svc
	r=$(live x)
	[ ${#r} = 64 ]
	eq "$(live y)" "$r"
	eq "$(cat stages/x/colour)" red
	eq "$(cat stages/y/colour)" blue
	grep -qx A stages/y/app.txt
	run 0 cairn status
	eq "$(printf '%s\n' "$out" | grep -c "${r:0:12} ${r:0:12} -  ")" 2
	# drift: read says something else; reconcile applies again
	echo 0000000000000000000000000000000000000000000000000000000000000000 > stages/y/live
	run 0 cairn status
	printf '%s\n' "$out" | grep -q "^  y .* 000000000000 drift "
	run 0 cairn reconcile
	has "1 stage repaired"
	eq "$(live y)" "$r"
	# a slow apply (a new release: the command is configuration)
	cmd_ws "sleep 5" "" "timeout = 1,"
	echo B > ver.txt
	t0=$(ms)
	run 1 cairn deploy //:svc
	[ $(( $(ms) - t0 )) -lt 4500 ]
	has "x: the provider command ran past its timeout (1 s)"
	has "rolled back"
	lacks "y: applied"
	eq "$(live x)" "$r"
	eq "$(live y)" "$r"
	grep -qx A stages/x/app.txt
	run 0 cairn status
	lacks " drift "
}

# A failed apply of the command provider may have changed its stage
# before failing: the rollback must put that stage back too.
test_command_failed_apply_is_undone() {
	cmd_ws
	run 0 cairn deploy //:svc
	r=$(live x)
	cmd_ws "" "exit 3"
	echo B > ver.txt
	run 1 cairn deploy //:svc
	has "x: the provider command exited 3"
	has "rolled back"
	eq "$(live y)" "$r"
	run 0 cairn status
	lacks " drift "
	eq "$(live x)" "$r"
	grep -qx A stages/x/app.txt
}

# A live deploy keeps its lock however long a step takes: once its lease
# has run out (written into the store, as 60 s of a slow health check
# would leave it), a second deploy must still be refused, not take the
# lock over and roll back under the first.
test_live_lock_outlasts_its_lease() {
	web_ws "a"
	health_ok 3
	"$CAIRN" deploy //:web > first.log 2>&1 &
	pid=$!
	wait_for first.log "a: applied"
	python3 - <<'PY'
import sqlite3
db = sqlite3.connect(".cairn/state.db", timeout=10)
with db:
    n = db.execute("UPDATE locks SET lease_ms = 1 WHERE deployment = '//:web'").rowcount
assert n == 1, n
PY
	kill -0 $pid
	health_ok
	run 1 cairn deploy //:web
	has "is locked by pid $pid"
	lacks "was cut off"
	wait $pid
	run 0 cairn deploy //:web
	has "all unchanged"
}
