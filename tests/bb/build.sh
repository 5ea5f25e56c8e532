# Black-box tests of building: incrementality, the cache, the SPEC's
# custom rule and macro, output and exit codes.

# A small graph: //a:gen <- //b:use <- //c:top, plus an independent //a:side.
three_pkgs() {
	ws
	echo hello > a/in.txt 2>/dev/null || { mkdir -p a; echo hello > a/in.txt; }
	write a/BUILD.lua <<'L'
genrule { name = "gen", srcs = { "in.txt" }, outs = { "gen.txt" }, cmd = "cat $< > $@; echo gen >> $@" }
genrule { name = "side", srcs = { "in.txt" }, outs = { "side.txt" }, cmd = "wc -c < $< > $@" }
L
	write b/BUILD.lua <<'L'
genrule { name = "use", srcs = { "//a:gen" }, outs = { "use.txt" }, cmd = "tr a-z A-Z < $< > $@" }
L
	write c/BUILD.lua <<'L'
genrule { name = "top", srcs = { "//b:use", "//a:side" }, outs = { "top.txt" }, cmd = "cat $(SRCS) > $@" }
L
}

test_first_build_then_noop() {
	three_pkgs
	run 0 cairn build
	summary 4 0 0
	eq "$(cat cairn-out/c/top.txt)" "$(printf 'HELLO\nGEN\n6')"
	run 0 cairn build
	summary 0 4 0
}

test_touch_without_change_reruns_nothing() {
	three_pkgs
	run 0 cairn build
	sleep 0.01; touch a/in.txt a/BUILD.lua
	run 0 cairn build
	summary 0 4 0
}

test_change_source_reruns_exactly_downstream() {
	three_pkgs
	write a/other.txt <<< "x"
	run 0 cairn build
	echo world >> a/in.txt
	run 0 cairn build --explain
	summary 4 0 0
	has "explain: //a:gen Genrule: input changed: a/in.txt"
	has "explain: //b:use Genrule: input changed: cairn-out/a/gen.txt"
}

test_early_cutoff() {
	three_pkgs
	run 0 cairn build
	# same length, so //a:side's output (a byte count) is unchanged
	echo HELLO > a/in.txt
	run 0 cairn build --explain
	# gen, use, side and top... side is rerun but its output is identical;
	# top still reruns because use changed. Now change only what side sees:
	write a/BUILD.lua <<'L'
genrule { name = "gen", srcs = { "in.txt" }, outs = { "gen.txt" }, cmd = "echo fixed > $@" }
genrule { name = "side", srcs = { "in.txt" }, outs = { "side.txt" }, cmd = "wc -c < $< > $@" }
L
	run 0 cairn build
	echo WORLD > a/in.txt
	run 0 cairn build --explain
	# side reruns (6 bytes again), gen reruns (fixed output): both identical,
	# so neither use nor top runs.
	summary 2 2 0
	lacks "//b:use"
	lacks "//c:top"
}

test_clean_then_build_restores_everything_identical() {
	three_pkgs
	run 0 cairn build
	before=$(tree_sum cairn-out)
	run 0 cairn clean
	[ ! -e cairn-out ]
	run 0 cairn build
	summary 0 4 0
	eq "$(tree_sum cairn-out)" "$before"
	run 0 cairn clean --all
	# all state is gone; the lock stays (a waiting cairn holds it)
	eq "$(ls -A .cairn)" lock
	run 0 cairn build
	summary 0 4 0
	eq "$(tree_sum cairn-out)" "$before"
}

test_cache_shared_between_workspaces() {
	mkdir one two
	(cd one && three_pkgs && cairn build >/dev/null)
	cd two && three_pkgs
	run 0 cairn build
	summary 0 4 0
}

test_edited_output_is_restored() {
	three_pkgs
	run 0 cairn build
	# outputs are read-only, like Bazel's
	eq "$(stat -c %a cairn-out/b/use.txt)" 444
	# replaced by a new file: restored from the cache
	rm -f cairn-out/b/use.txt; echo junk > cairn-out/b/use.txt
	run 0 cairn build
	summary 0 4 0
	eq "$(cat cairn-out/b/use.txt)" "$(printf 'HELLO\nGEN')"
	# written in place (only root can): the cached copy shares the inode,
	# so the damage is caught when it is read and the action runs again
	if [ "$(id -u)" = 0 ]; then
		echo junk > cairn-out/b/use.txt
		run 0 cairn build
		summary 1 3 0
		eq "$(cat cairn-out/b/use.txt)" "$(printf 'HELLO\nGEN')"
		cairn clean
		run 0 cairn build
		summary 0 4 0
	fi
}

test_build_file_change_reruns_changed_action() {
	three_pkgs
	run 0 cairn build
	sed -i 's/tr a-z A-Z/tr a-z b-za/' b/BUILD.lua
	run 0 cairn build --explain
	has "//b:use Genrule: command changed"
	summary 2 2 0
}

test_add_and_delete_files_and_packages() {
	ws
	write p/BUILD.lua <<'L'
genrule { name = "all", srcs = glob { "*.txt" }, outs = { "all.out" }, cmd = "cat $(SRCS) > $@" }
L
	echo 1 > p/a.txt
	run 0 cairn build
	echo 2 > p/b.txt
	run 0 cairn build
	summary 1 0 0
	eq "$(cat cairn-out/p/all.out)" "$(printf '1\n2')"
	rm p/a.txt
	run 0 cairn build
	eq "$(cat cairn-out/p/all.out)" "2"
	write q/BUILD.lua <<'L'
genrule { name = "q", srcs = { "//p:all" }, outs = { "q.out" }, cmd = "cp $< $@" }
L
	run 0 cairn build
	summary 1 1 0
	[ -f cairn-out/q/q.out ]
	rm -r q
	run 0 cairn build
	summary 0 1 0
	# a sub-package's files are not part of its parent's glob
	write p/sub/BUILD.lua <<< ''
	echo 3 > p/sub/c.txt
	run 0 cairn build
	eq "$(cat cairn-out/p/all.out)" "2"
}

test_spec_custom_rule_and_macro() {
	ws
	# the example workspace carries the SPEC's rule module verbatim
	mkdir -p rules && cp "$TESTS/../examples/rules/stamp.lua" rules/
	grep -q 'argv = { "sh", "-c", .cat "\$@" > "\$OUT".' rules/stamp.lua
	write app/BUILD.lua <<'L'
local s = load("//rules/stamp.lua")
s.stamped_pair { name = "p", srcs = { "x.in", "y.in" } }
s.stamp { name = "solo", srcs = { ":p_b", "x.in" }, suffix = "?" }
L
	echo X > app/x.in; echo Y > app/y.in
	run 0 cairn build //app:all
	summary 3 0 0
	eq "$(cat cairn-out/app/p_b.txt)" "$(printf 'X\nY')"
	eq "$(cat cairn-out/app/solo.txt)" "$(printf 'X\nY\nX')"
	run 0 cairn query 'kind(stamp, //...)'
	eq "$out" "$(printf '//app:p_a\n//app:p_b\n//app:solo')"
}

test_providers_reach_dependents() {
	ws
	write rules/r.lua <<'L'
local M = {}
M.info = rule {
  attrs = { msg = attr.string { mandatory = true } },
  impl = function(ctx)
    local f = ctx.declare_file(ctx.label.name .. ".txt")
    ctx.action { cmd = "echo " .. ctx.attr.msg .. " > " .. f.path, outputs = { f } }
    return { files = { f }, greeting = ctx.attr.msg }
  end,
}
M.user = rule {
  attrs = { deps = attr.label_list {} },
  impl = function(ctx)
    local f = ctx.declare_file(ctx.label.name .. ".txt")
    local words = {}
    for _, d in ipairs(ctx.attr.deps) do words[#words + 1] = d.greeting end
    ctx.action { cmd = "echo " .. table.concat(words, "+") .. " > " .. f.path, outputs = { f } }
    return { files = { f } }
  end,
}
return M
L
	write BUILD.lua <<'L'
local r = load("//rules/r.lua")
r.info { name = "a", msg = "hi" }
r.info { name = "b", msg = "yo" }
r.user { name = "u", deps = { ":b", ":a" } }
L
	run 0 cairn build //:u
	eq "$(cat cairn-out/u.txt)" "yo+hi"
}

test_deterministic_pairs_order() {
	ws
	write BUILD.lua <<'L'
local t = {}
for i = 1, 50 do t["k" .. i] = i end
local keys = {}
for k in pairs(t) do keys[#keys + 1] = k end
genrule { name = "o", outs = { "o.txt" }, cmd = "echo " .. table.concat(keys, ",") .. " > $@" }
L
	run 0 cairn build
	first=$(cat cairn-out/o.txt)
	for i in 1 2 3; do
		cairn clean --all >/dev/null
		run 0 cairn build
		eq "$(cat cairn-out/o.txt)" "$first"
	done
	case $first in k1,k10,k11,*) ;; *) echo "not sorted: $first" >&2; false ;; esac
}

test_failed_action_prints_command_and_output_once() {
	ws
	write BUILD.lua <<'L'
genrule { name = "bad", outs = { "bad.txt" }, cmd = "echo some-diagnostic; exit 3" }
genrule { name = "after", srcs = { ":bad" }, outs = { "after.txt" }, cmd = "cp $< $@" }
L
	run 1 cairn build
	has "FAILED: //:bad Genrule (exit 3)"
	has "/bin/sh -c 'echo some-diagnostic; exit 3'"
	eq "$(printf '%s\n' "$out" | grep -c some-diagnostic)" 2
	summary 0 0 1
	[ ! -e cairn-out/after.txt ]
}

test_keep_going_runs_independent_actions() {
	ws
	write BUILD.lua <<'L'
genrule { name = "bad", outs = { "bad.txt" }, cmd = "exit 1" }
genrule { name = "good", outs = { "good.txt" }, cmd = "echo ok > $@" }
L
	run 1 cairn build -k -j1
	summary 1 0 1
	[ -f cairn-out/good.txt ]
}

test_missing_declared_output_fails() {
	ws
	write BUILD.lua <<'L'
genrule { name = "lazy", outs = { "never.txt" }, cmd = "true" }
L
	run 1 cairn build
	has "did not create its output 'cairn-out/never.txt'"
}

test_failure_is_not_cached() {
	ws
	write BUILD.lua <<'L'
genrule { name = "flip", srcs = { "ok" }, outs = { "o" }, cmd = "test \"$$(cat $<)\" = yes && cp $< $@" }
L
	echo no > ok
	run 1 cairn build
	run 1 cairn build
	summary 0 0 1
	echo yes > ok
	run 0 cairn build
	summary 1 0 0
}

test_events_and_profile_files() {
	three_pkgs
	run 0 cairn build --events ev.json --profile prof.json
	python3 - <<'P'
import json
ev = [json.loads(l) for l in open("ev.json")]
acts = [e for e in ev if e["type"] == "action"]
assert len(acts) == 4, acts
assert all(a["status"] == "executed" and a["where"] == "local" and len(a["key"]) == 64
           for a in acts), acts
assert {a["label"] for a in acts} == {"//a:gen", "//a:side", "//b:use", "//c:top"}
assert ev[-1]["type"] == "summary" and ev[-1]["executed"] == 4, ev[-1]
tr = json.load(open("prof.json"))
xs = [e for e in tr["traceEvents"] if e["ph"] == "X"]
assert len(xs) == 4 and all(e["dur"] >= 0 for e in xs), xs
P
	run 0 cairn build --events ev2.json
	python3 -c '
import json
ev = [json.loads(l) for l in open("ev2.json")]
assert [e["status"] for e in ev if e["type"] == "action"] == ["cached"] * 4
assert [e["where"] for e in ev if e["type"] == "action"] == ["local-cache"] * 4
'
}

test_plan_runs_nothing_and_says_why() {
	three_pkgs
	run 0 cairn plan
	has "//a:gen Genrule: new"
	[ ! -e cairn-out ]
	run 0 cairn build
	echo more >> a/in.txt
	run 0 cairn plan
	has "//a:gen Genrule: input changed: a/in.txt"
	has "//b:use Genrule: input will change: cairn-out/a/gen.txt"
	eq "$(cat cairn-out/a/gen.txt)" "$(printf 'hello\ngen')"
	echo hello > a/in.txt
	rm cairn-out/c/top.txt
	cairn gc --max-size 0 >/dev/null
	run 0 cairn plan //c:top
	has "//c:top Genrule: output missing"
}

test_query_deps_rdeps_patterns() {
	three_pkgs
	run 0 cairn query 'deps(//c:top)'
	eq "$out" "$(printf '//a:gen\n//a:in.txt\n//a:side\n//b:use\n//c:top')"
	run 0 cairn query 'rdeps(//..., //a:gen)'
	eq "$out" "$(printf '//a:gen\n//b:use\n//c:top')"
	run 0 cairn query '//a:all'
	eq "$out" "$(printf '//a:gen\n//a:side')"
	run 0 cairn query 'kind("^genrule$", deps(//b:use))'
	eq "$out" "$(printf '//a:gen\n//b:use')"
	run 2 cairn query 'deps(//c:top'
	has "expected ')'"
}

test_patterns_select_targets() {
	three_pkgs
	run 0 cairn build //b:use
	summary 2 0 0
	[ ! -e cairn-out/c/top.txt ]
	run 0 cairn build //a/...
	summary 1 1 0
	cd c
	run 0 cairn build :top
	summary 1 3 0
}

test_gc_evicts_and_build_still_correct() {
	three_pkgs
	run 0 cairn build
	run 0 cairn gc --max-size 0
	has "removed"
	[ -z "$(find "$XDG_CACHE_HOME/cairn/cas" "$XDG_CACHE_HOME/cairn/ac" -type f)" ]
	cairn clean
	run 0 cairn build
	summary 4 0 0
}

test_visibility_allows_listed_packages() {
	ws
	write lib/BUILD.lua <<'L'
genrule { name = "x", outs = { "x.txt" }, cmd = "echo > $@", visibility = { "//app/..." } }
L
	write app/sub/BUILD.lua <<'L'
genrule { name = "y", srcs = { "//lib:x" }, outs = { "y.txt" }, cmd = "cp $< $@" }
L
	run 0 cairn build
}

test_version_and_help() {
	run 0 cairn --version
	has "cairn "
	run 0 cairn --help
	has "usage: cairn"
}

test_snapshot_follows_modules_globs_and_patterns() {
	ws
	write rules/m.lua <<'L'
return { word = "one" }
L
	write p/BUILD.lua <<'L'
local m = load("//rules/m.lua")
genrule { name = "w", outs = { "w.txt" }, cmd = "echo " .. m.word .. " > $@" }
genrule { name = "g", srcs = glob { "**/*.in" }, outs = { "g.txt" }, cmd = "cat $(SRCS) > $@" }
L
	echo a > p/a.in
	sleep 0.1 # build files younger than a timestamp tick are not snapshotted
	run 0 cairn build
	[ -f .cairn/graph ]
	eq "$(cat cairn-out/p/w.txt)" one
	# a loaded module changes: the snapshot is stale
	write rules/m.lua <<'L'
return { word = "two" }
L
	run 0 cairn build
	eq "$(cat cairn-out/p/w.txt)" two
	# a file appears in a sub-directory that a glob covers
	mkdir -p p/deep && echo b > p/deep/b.in
	run 0 cairn build
	eq "$(cat cairn-out/p/g.txt)" "$(printf 'a\nb')"
	# another pattern, then back: each gives its own graph
	run 0 cairn build //p:w
	summary 0 1 0
	run 0 cairn build
	summary 0 2 0
	# a damaged snapshot is ignored
	printf 'garbage' > .cairn/graph
	run 0 cairn build
	summary 0 2 0
	head -c 50 .cairn/graph > g && mv g .cairn/graph
	run 0 cairn build
	summary 0 2 0
	# a deleted source file is noticed (a bad-input error, not a stale graph)
	write p/BUILD.lua <<'L'
genrule { name = "s", srcs = { "a.in" }, outs = { "s.txt" }, cmd = "cat $< > $@" }
L
	run 0 cairn build
	rm p/a.in
	run 2 cairn build
	has "no such target or source file '//p:a.in'"
}

test_direct_spawn_matches_the_shell() {
	ws
	printf 'b\na\n' > in.txt
	write BUILD.lua <<'L'
genrule { name = "s", srcs = { "in.txt" }, outs = { "s.txt" }, cmd = "sort < $< > $@" }
genrule { name = "a", srcs = { "in.txt" }, outs = { "a.txt" }, cmd = "cat $< > $@" }
genrule { name = "b", srcs = { ":a" }, outs = { "b.txt" }, cmd = "cp $< $@" }
L
	run 0 cairn build
	eq "$(cat cairn-out/s.txt)" "$(printf 'a\nb')"
	eq "$(cat cairn-out/b.txt)" "$(printf 'b\na')"
	write BUILD.lua <<'L'
genrule { name = "m", outs = { "m.txt" }, cmd = "cat missing.txt > $@" }
genrule { name = "l", outs = { "l.txt" }, cmd = "ls /nonexistent-dir > $@" }
genrule { name = "r", outs = { "r.txt" }, cmd = "cat < missing-input > $@" }
L
	run 1 cairn build -k
	has "FAILED: //:m Genrule (exit 1)"
	has "missing.txt: No such file or directory"
	has "FAILED: //:l Genrule (exit 2)"
	has "FAILED: //:r Genrule (exit 2)"
	has "missing-input"
}

test_events_path_is_relative_to_where_you_stand() {
	three_pkgs
	cd b
	run 0 cairn build --events ev.json --profile prof.json
	[ -f ev.json ] && [ -f prof.json ]
	[ ! -e ../ev.json ]
}

test_snapshot_knows_the_workspace_name() {
	mkdir wsA && cd wsA && ws
	write BUILD.lua <<'L'
genrule { name = "n", outs = { "n.txt" }, cmd = "echo " .. workspace_root_name() .. " > $@" }
L
	run 0 cairn build
	cd .. && mv wsA wsB && cd wsB
	run 0 cairn build
	eq "$(cat cairn-out/n.txt)" wsB
}

test_removed_targets_outputs_are_pruned() {
	ws
	echo hi > a.txt
	write p/BUILD.lua <<'L'
genrule { name = "x", srcs = { "//:a.txt" }, outs = { "x.out" }, cmd = "cat $< > $@" }
genrule { name = "y", srcs = { "//:a.txt" }, outs = { "y.out" }, cmd = "cat $< $< > $@" }
sh_test { name = "t", srcs = { "t.sh" } }
L
	echo 'echo ok' > p/t.sh
	write q/BUILD.lua <<'L'
genrule { name = "z", srcs = { "//p:x" }, outs = { "z.out" }, cmd = "cat $< > $@" }
L
	write BUILD.lua <<< 'exports = nil'
	run 0 cairn test
	[ -f cairn-out/p/t.xml ]
	# a partial build prunes nothing
	sed -i '/name = "y"/d' p/BUILD.lua
	run 0 cairn build //p:x
	[ -f cairn-out/p/y.out ]
	# a whole-workspace build removes what no target makes any more, and
	# leaves the tests' logs alone (a build has no test actions)
	rm -r q
	run 0 cairn build
	[ ! -e cairn-out/p/y.out ] && [ ! -e cairn-out/q ]
	[ -f cairn-out/p/x.out ] && [ -f cairn-out/p/t.xml ]
	# and what is left is what a clean build makes
	mkdir ../ref && cp -r WORKSPACE.lua BUILD.lua a.txt p ../ref/
	(cd ../ref && cairn build --cache-dir ../refcache >/dev/null)
	eq "$(cd cairn-out && find . -type f ! -name 't.*' | sort)" "$(cd ../ref/cairn-out && find . -type f | sort)"
}

# An analyzed target whose providers are only files is kept sealed (one
# string) and read back when another package, the command line or a
# later pattern names it: its own outputs, sources, and another target's
# outputs through a filegroup, a file label of a sealed genrule, and
# targets whose providers hold more than files (not sealed).
test_sealed_targets_give_back_their_files() {
	ws
	echo src > a/s.txt 2>/dev/null || { mkdir -p a; echo src > a/s.txt; }
	write a/BUILD.lua <<'L'
genrule { name = "g1", outs = { "x.txt" }, cmd = "echo x > $@" }
filegroup { name = "fg", srcs = { ":g1", "s.txt", "//b:g2" } }
genrule { name = "same", outs = { "same" }, cmd = "echo same > $@" }
local r = load("//rules/r.lua")
r.extra { name = "ex" }
L
	write rules/r.lua <<'L'
return { extra = rule {
  impl = function(ctx)
    local f = ctx.declare_file("e.txt")
    ctx.action { cmd = "echo e > " .. f.path, outputs = { f } }
    return { files = { f }, more = "kept" }
  end } }
L
	write b/BUILD.lua <<'L'
genrule { name = "g2", outs = { "y.txt" }, cmd = "echo y > $@" }
genrule { name = "use", srcs = { "//a:fg", "//a:x.txt", "//a:same", "//a:ex" }, outs = { "use.txt" },
  cmd = "cat $(SRCS) > $@; echo '$(locations //a:fg)' >> $@" }
L
	run 0 cairn build //...
	eq "$(cat cairn-out/b/use.txt)" "$(printf 'x\nsrc\ny\nsame\ne\ncairn-out/a/x.txt a/s.txt cairn-out/b/y.txt')"
	# the command line names sealed targets, after the package analyzed them
	run 0 cairn build //b:use //a:all //a:x.txt
	summary 0 5 0
	run 0 cairn query 'deps(//b:use)'
	has "//a:fg"
	has "//b:g2"
	run 0 cairn query 'kind(filegroup, //...)'
	has "//a:fg"
}
