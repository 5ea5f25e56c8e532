# The audit log (docs/deploy.md, "Audit"): what deployments append to
# .cairn/audit.log, cairn audit and cairn audit verify, each kind of
# tampering named by its line, and appends that survive kill -9. The
# stages are directories under the test's cwd, as in deploy.sh.

# site_ws "STAGE..." [FIELDS]: //:web deploys :app (a copy of ver.txt)
# with the dir provider to $PWD/stages/STAGE, health :health (fails
# when app.txt says "bad"; sleeps up to 30 ms with NAP=random).
site_ws() {
	ws
	local s stages=""
	for s in $1; do stages="$stages    { name = \"$s\", path = \"$PWD/stages/$s\" },
"; done
	write BUILD.lua <<L
genrule { name = "app", srcs = { "ver.txt" }, outs = { "app.txt" }, cmd = "cat \$< > \$@" }
sh_test { name = "health", srcs = { "health.sh" } }
deployment {
  name = "web",
  artifacts = { ":app" },
  provider = "dir",
  stages = {
$stages  },
  health = ":health",
  ${2:-}
}
L
	echo A > ver.txt
	cat > health.sh <<'H'
[ -z "${NAP:-}" ] || sleep "0.0$(od -An -N1 -tu1 /dev/urandom | awk '{ printf "%02d", $1 % 31 }')"
! grep -q bad "$CAIRN_STAGE_PATH/current/app.txt"
H
}

# chain FILE: every line of FILE is a JSON object whose seq counts from 1
# and whose prev is the SHA-256 of the line before (64 zeros first); its
# kinds, one a line.
chain() {
	python3 - "$1" <<'P'
import hashlib, json, sys
prev = "0" * 64
data = open(sys.argv[1], "rb").read()
assert data.endswith(b"\n"), "no newline at the end"
for i, raw in enumerate(data[:-1].split(b"\n"), 1):
    e = json.loads(raw)
    assert e["seq"] == i, (i, e["seq"])
    assert e["prev"] == prev, i
    for k in ("time", "user", "host", "kind"):
        assert k in e, (i, k)
    print(e["kind"])
    prev = hashlib.sha256(raw).hexdigest()
P
}

# copy_ws DIR: a workspace at DIR with a copy of this one's .cairn.
copy_ws() {
	rm -rf "$1"
	mkdir -p "$1"
	: > "$1/WORKSPACE.lua"
	cp -a .cairn "$1/.cairn"
}

# A deploy, a failed deploy (rolled back), a rollback and a reconcile are
# all in the log, readable, as stored, chained, confirmed.
test_log_of_a_deployment_chains_and_verifies() {
	site_ws "a b"
	run 0 cairn audit
	has "cairn: audit: no .cairn/audit.log (nothing was deployed here)"
	run 0 cairn audit verify
	has "0 lines, intact"
	run 0 cairn deploy //:web
	echo bad > ver.txt
	run 1 cairn deploy //:web
	echo B > ver.txt
	run 0 cairn deploy //:web
	run 0 cairn rollback //:web --stage b
	rm -rf stages/a/current
	run 0 cairn reconcile
	has "1 stage repaired"
	run 0 cairn audit
	has "apply     //:web  a  (none)->"
	has "health    //:web  a  "
	has "  failed  error: //:web a: the health check failed"
	has "rollback  //:web  a  "
	has "rollback  //:web  b  "
	has "reconcile //:web  a  (none)->"
	eq "$(printf '%s\n' "$out" | wc -l)" "$(wc -l < .cairn/audit.log)"
	printf '%s\n' "$out" | grep -qE "^20[0-9-]+T[0-9:]+\.[0-9]{3}Z  ${USER:-$(id -un)}  apply "
	run 0 cairn audit --json
	eq "$out" "$(cat .cairn/audit.log)"
	kinds=$(chain .cairn/audit.log | sort -u | tr '\n' ' ')
	eq "$kinds" "apply health reconcile rollback "
	n=$(wc -l < .cairn/audit.log)
	run 0 cairn audit verify
	eq "$out" "cairn: audit: $n lines, chain intact, tail confirmed by .cairn/state.db"
	# a status adds nothing; clean --all keeps the log
	run 0 cairn status
	run 0 cairn clean --all
	eq "$(wc -l < .cairn/audit.log)" "$n"
	run 0 cairn audit verify
	run 2 cairn audit what
	has "audit takes no argument but 'verify'"
}

# Each kind of tampering, on a copy: exit 1 naming the first bad line.
test_each_tampering_named() {
	site_ws "a b c"
	run 0 cairn deploy //:web
	echo B > ver.txt
	run 0 cairn deploy //:web
	n=$(wc -l < .cairn/audit.log)
	[ "$n" -ge 10 ]
	while IFS='|' read -r what edit want; do
		copy_ws t
		(cd t && eval "$edit")
		run 1 sh -c "cd t && '$CAIRN' audit verify"
		has "cairn: audit: $want"
		echo "$what: $out"
	done <<C
edited|sed -i '4s/"user": "/"user": "x/' .cairn/audit.log|line 4: edited (line 5 holds another hash for it)
edited last|sed -i '\$s/"user": "/"user": "x/' .cairn/audit.log|line $n: edited (the state store holds another hash for it)
removed|sed -i '4d' .cairn/audit.log|line 4: removed before it (entry 4 is missing)
reordered|sed -i '4{h;d};5G' .cairn/audit.log|line 4: reordered (entry 5 here, entry 4 is at line 5)
inserted|sed -n 7p .cairn/audit.log > x && sed -i '3r x' .cairn/audit.log|line 4: inserted (a copy of entry 7, line 8 holds it too)
cut off|sed -i '\$d' .cairn/audit.log|line $n: cut off (the state store confirms $n lines, the log has $((n - 1)))
torn|printf '{"seq": %d, "prev": "00' $((n + 1)) >> .cairn/audit.log|line $((n + 1)): torn (
all gone|rm .cairn/audit.log|line 1: cut off
C
	# a forged line chained as it should be, inserted: the line after it
	# follows the line before it
	copy_ws t
	python3 - t/.cairn/audit.log <<'P'
import hashlib, json, sys
p = sys.argv[1]
lines = open(p, "rb").read().split(b"\n")[:-1]
forged = json.dumps({"seq": 3, "prev": hashlib.sha256(lines[1]).hexdigest(), "kind": "apply"})
lines.insert(2, forged.encode())
open(p, "wb").write(b"\n".join(lines) + b"\n")
P
	run 1 sh -c "cd t && '$CAIRN' audit verify"
	has "line 3: inserted (line 4 follows line 2)"
	# the original is untouched
	run 0 cairn audit verify
}

# A torn tail made by hand: verify names it until the next deploy, which
# drops it and records a "torn" line; verify then passes. Damage is never
# repaired: an edited line stays named, and a log cut short gets a
# "mismatch" line from the next deploy that says what it found.
test_torn_tail_reported_then_recorded() {
	site_ws "a"
	run 0 cairn deploy //:web
	n=$(wc -l < .cairn/audit.log)
	torn=$(printf '{"seq": %d, "prev": "abc' $((n + 1)))
	printf '%s' "$torn" >> .cairn/audit.log
	run 1 cairn audit verify
	has "cairn: audit: line $((n + 1)): torn (${#torn} bytes without a newline"
	run 0 cairn audit
	has "line $((n + 1)): torn (${#torn} bytes"
	echo B > ver.txt
	run 0 cairn deploy //:web
	run 0 cairn audit verify
	has "chain intact, tail confirmed"
	sed -n "$((n + 1))p" .cairn/audit.log |
		grep -q "\"kind\": \"torn\", \"detail\": \"${#torn} bytes at the end of the log dropped"
	chain .cairn/audit.log > /dev/null
	# damage in the middle: appended after, never repaired, still named
	sed -i '2s/"user": "/"user": "x/' .cairn/audit.log
	echo C > ver.txt
	run 0 cairn deploy //:web
	run 1 cairn audit verify
	has "cairn: audit: line 2: edited (line 3 holds another hash for it)"
	# the tail cut short: named; the next deploy records what it found
	sed -i '2s/"user": "x/"user": "/' .cairn/audit.log
	run 0 cairn audit verify
	m=$(wc -l < .cairn/audit.log)
	sed -i '$d' .cairn/audit.log
	run 1 cairn audit verify
	has "cairn: audit: line $m: cut off (the state store confirms $m lines, the log has $((m - 1)))"
	echo D > ver.txt
	run 0 cairn deploy //:web
	run 1 cairn audit verify
	has "cairn: audit: line $m: records damage (found before this line was appended: line $m: cut off"
	sed -n "${m}p" .cairn/audit.log | grep -q '"kind": "mismatch"'
	chain .cairn/audit.log > /dev/null
}

# kill -9 at random moments of a many-stage rollout, its appends slowed
# down (cairn-hooks, CAIRN_HOOK_AUDIT_SLOW: a line is half written for
# 20 ms, then unanchored for 20 ms): verify names a torn line until the
# next deploy, after which the log verifies whatever the kill cut (the
# torn line recorded, a line not yet anchored adopted).
test_kill9_during_appends() {
	site_ws "s1 s2 s3 s4 s5 s6 s7 s8" 'max_parallel = 2,'
	export NAP=random
	run 0 cairn deploy //:web
	local i v torn=0 adopted=0
	for i in $(seq "${AUDIT_KILL_ROUNDS:-20}"); do
		v=V$(( i % 2 ))
		echo "$v" > ver.txt
		CAIRN_HOOK_AUDIT_SLOW=1 "$CAIRN_HOOKS" deploy //:web > killed.log 2>&1 &
		pid=$!
		sleep "0.$(printf '%03d' $(( 100 + RANDOM % 500 )))"
		kill -9 $pid 2>/dev/null || true
		wait $pid || true
		set +e; out=$(cairn audit verify); code=$?; set -e
		case $code:$out in
		"1:cairn: audit: line "*": torn ("*) torn=$((torn + 1)) ;;
		*"is not yet confirmed"*) adopted=$((adopted + 1)) ;;
		0:*) ;;
		*) echo "round $i: $out; killed: $(cat killed.log)" >&2; return 1 ;;
		esac
		run 0 cairn deploy //:web
		if ! run 0 cairn audit verify; then echo "round $i; killed: $(cat killed.log)" >&2; return 1; fi
		chain .cairn/audit.log > /dev/null
	done
	echo "torn $torn, adopted $adopted"
	[ "$torn" -gt 0 ]
	eq "$(grep -c '"kind": "torn"' .cairn/audit.log)" "$torn"
}
