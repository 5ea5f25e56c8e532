# One trace from source to production: a deploy's --events and --profile
# hold the build and the rollout, in order; the release event and
# `cairn status --json` lead from a live stage back to the action keys
# that made its bytes and the tests that admitted it.

# obs_ws: //web:site, three stages, a health check, a bake of 1 s.
obs_ws() {
	ws
	write web/BUILD.lua <<'L'
genrule { name = "page", srcs = { "page.txt" }, outs = { "index.html" }, cmd = "cat $< > $@" }
sh_test { name = "unit", srcs = { "unit.sh" } }
sh_test { name = "smoke", srcs = { "smoke.sh" } }
deployment {
  name = "site", artifacts = { ":page" }, provider = "dir",
  stages = { { name = "a", path = "stages/a" }, { name = "b", path = "stages/b" },
             { name = "c", path = "stages/c" } },
  health = ":smoke", canary = 1, max_parallel = 2, bake = 1, interval = 1,
  requires_tests = { ":unit" },
}
L
	echo v1 > web/page.txt
	echo 'exit 0' > web/unit.sh
	echo 'grep -q good "$CAIRN_STAGE_PATH/current/index.html"' > web/smoke.sh
	echo good > web/page.txt
}

test_deploy_events_in_order_and_complete() {
	obs_ws
	run 0 cairn deploy //web:site --events ev.json --profile trace.json
	python3 - <<'PY'
import json
ev = [json.loads(l) for l in open("ev.json")]
types = [e["type"] for e in ev]
# the build first, its summary, then the release, then the rollout
s = types.index("summary"); r = types.index("release")
assert all(t in ("action", "test") for t in types[:s]), types
assert r == s + 1 and all(t == "deploy" for t in types[r + 1:]), types
rel = ev[r]
assert rel["deployment"] == "//web:site" and len(rel["release"]) == 64
assert rel["tests"] == ["//web:unit"], rel
keys = {e["label"]: e["key"] for e in ev if e["type"] == "action"}
[art] = rel["artifacts"]
assert art["name"] == "index.html" and art["key"] == keys["//web:page"], (art, keys)
steps = [(e["event"], e.get("stage"), e.get("result")) for e in ev[r + 1:]]
# each stage: applied, checked, checked again in its 1 s bake, baked
want = [("apply", "a", "ok"), ("health", "a", "passed"), ("health", "a", "passed"),
        ("bake", "a", "passed")]
assert steps[:4] == want, steps
rest = steps[4:]
for st in "bc":
    mine = [x for x in rest if x[1] == st]
    assert [x[0] for x in mine] == ["apply", "health", "health", "bake"], (st, mine)
# a group is applied together, checked together, baked together
assert [x[0] for x in rest[:2]] == ["apply", "apply"], rest
assert all(e["to"] == rel["release"] for e in ev[r + 1:] if "to" in e)
tr = json.load(open("trace.json"))["traceEvents"]
cats = {e["cat"] for e in tr}
assert "deploy://web:site" in cats and "Genrule" in cats, cats
names = {e["name"] for e in tr if e["cat"] == "deploy://web:site"}
assert {"apply a", "health a", "bake a", "apply b", "bake c"} <= names, names
PY
	# from the live stage back to the build and the tests
	run 0 cairn status --json
	python3 - "$out" <<'PY'
import json, sys
st = json.loads(sys.argv[1])["deployments"][0]["stages"][0]
ev = [json.loads(l) for l in open("ev.json")]
rel = next(e for e in ev if e["type"] == "release")
assert st["desired"] == st["live"] == rel["release"], st
p = st["provenance"]
assert p["tests"] == ["//web:unit"], p
assert p["artifacts"][0]["key"] == rel["artifacts"][0]["key"], p
PY
}

# A failed rollout in the events: the health check that failed, then the
# rollback; a CI job can follow them live on stdout (--events -), while
# what cairn says to people goes to stderr.
test_failed_rollout_events_live_on_stdout() {
	obs_ws
	run 0 cairn deploy //web:site
	echo bad > web/page.txt
	set +e
	"$CAIRN" deploy //web:site --events - > ev.json 2> said.txt
	code=$?
	set -e
	[ "$code" = 1 ]
	grep -q "FAILED: rolled back 1 stage" said.txt
	python3 - <<'PY'
import json
ev = [json.loads(l) for l in open("ev.json")]   # nothing but JSON on stdout
steps = [(e["event"], e.get("stage"), e.get("result")) for e in ev if e["type"] == "deploy"]
assert steps == [("apply", "a", "ok"), ("health", "a", "failed"), ("rollback", "a", "ok")], steps
assert ev[-1]["type"] == "deploy"
PY
}
