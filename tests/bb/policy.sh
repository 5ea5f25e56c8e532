# POLICY.lua (SPEC section 8): its action() and deploy() hooks, each
# allowing and denying, with the line that denied; a policy is a gate,
# not an input; errors in it are reported like errors in build files.

# pol_ws: a workspace with an app, a third-party fetch that asks for the
# network, and the policy of the manual: network only for //third_party.
pol_ws() {
	ws
	write third_party/x/BUILD.lua <<'L'
genrule { name = "fetch", outs = { "f.txt" }, cmd = "echo fetched > $@",
  tags = { "requires-network" }, visibility = { "//visibility:public" } }
L
	write app/BUILD.lua <<'L'
genrule { name = "a", srcs = { "in.txt", "//third_party/x:fetch" }, outs = { "a.txt" },
  cmd = "cat $(SRCS) > $@" }
genrule { name = "net", outs = { "n.txt" }, cmd = "echo n > $@", tags = { "requires-network" } }
L
	echo hi > app/in.txt
	write POLICY.lua <<'L'
local function under(label, prefix) return label:sub(1, #prefix) == prefix end
return {
  action = function(a)
    for _, t in ipairs(a.tags) do
      if t == "requires-network" and not under(a.label, "//third_party/") then
        return "network only for //third_party/... (" .. a.label .. " asks for it)"
      end
    end
  end,
}
L
}

# Allowed: the network for //third_party; denied for //app:net, at the
# line of the return that denied, before anything runs.
test_action_allow_and_deny_with_the_line() {
	pol_ws
	run 0 cairn build //app:a
	summary 2 0 0
	run 2 cairn build //app/...
	has "POLICY.lua:6: error: action //app:net (Genrule) denied: network only for //third_party/... (//app:net asks for it)"
	lacks "Genrule //app:net"
	[ ! -e cairn-out/app/n.txt ]
}

# A denied action's cached result is not used either; changing the policy
# checks again and rebuilds nothing (a policy is no input).
test_denied_action_is_not_taken_from_the_cache() {
	pol_ws
	run 0 cairn build //app:a
	cp POLICY.lua allow.lua
	write POLICY.lua <<'L'
return {
  action = function(a)
    if a.label == "//app:a" then
      return "app is frozen"
    end
  end,
}
L
	run 2 cairn build //app:a
	has "POLICY.lua:4: error: action //app:a (Genrule) denied: app is frozen"
	lacks "cached"
	cp allow.lua POLICY.lua
	run 0 cairn build //app:a
	summary 0 2 0
	rm POLICY.lua
	run 0 cairn build //app:a
	summary 0 2 0
}

# What a.inputs holds: labels of the files an action reads (a source by
# its package, a generated file by the rule that makes it).
test_action_sees_input_labels() {
	pol_ws
	write POLICY.lua <<'L'
return {
  action = function(a)
    if a.label == "//app:a" then
      return table.concat(a.inputs, " ") .. " | " .. table.concat(a.paths, " ") .. " | " .. a.mnemonic
    end
  end,
}
L
	run 2 cairn build //app:a
	has "denied: //app:in.txt //third_party/x:fetch | app/in.txt cairn-out/third_party/x/f.txt | Genrule"
}

# Errors in POLICY.lua are reported like errors in build files, at their
# line, exit 2; nothing runs.
test_policy_errors_are_build_file_errors() {
	pol_ws
	printf 'return { action = function(a)\n' > POLICY.lua
	run 2 cairn build //app:a
	has "POLICY.lua:2: error: 'end' expected"
	printf 'return { action = function(a)\n  return a.nope.x\nend }\n' > POLICY.lua
	run 2 cairn build //app:a
	has "POLICY.lua:2: error: attempt to index a nil value (field 'nope')"
	echo 'return 5' > POLICY.lua
	run 2 cairn build //app:a
	has "POLICY.lua:1: error: POLICY.lua must return a table of functions"
	echo 'return { build = function() end }' > POLICY.lua
	run 2 cairn build //app:a
	has "unknown hook 'build'"
	printf 'return { action = function(a)\n  return 42\nend }\n' > POLICY.lua
	run 2 cairn build //app:a
	has "POLICY.lua:2: error: a policy hook returns nil (allow) or a reason string, not a number"
	printf 'return { action = function(a)\n  a.label = "x"\nend }\n' > POLICY.lua
	run 2 cairn build //app:a
	has "POLICY.lua:2: error: a is read-only"
	printf 'return { action = function(a)\n  os.execute("touch pwned")\nend }\n' > POLICY.lua
	run 2 cairn build //app:a
	has "'os' is not available"
	[ ! -e pwned ]
	[ ! -e cairn-out/app/a.txt ]
}

# dep_ws POLICY: a deployment //web:site to staging and prod (dir
# provider), admitted by //web:unit, with POLICY.lua from stdin.
dep_ws() {
	ws
	write web/BUILD.lua <<'L'
genrule { name = "page", srcs = { "page.txt" }, outs = { "index.html" }, cmd = "cat $< > $@" }
sh_test { name = "unit", srcs = { "unit.sh" } }
deployment {
  name = "site", artifacts = { ":page" }, provider = "dir",
  stages = { { name = "staging", path = "stages/staging" }, { name = "prod", path = "stages/prod" } },
  requires_tests = { ":unit" },
}
L
	echo v1 > web/page.txt
	echo 'exit 0' > web/unit.sh
	write POLICY.lua
}

# A checkout with uncommitted changes may go to staging, never to prod;
# committed, it may.
test_deploy_no_dirty_workspace_to_prod() {
	dep_ws <<'L'
return {
  deploy = function(d)
    if d.stage == "prod" and d.dirty then
      return "uncommitted changes may not go to prod"
    end
  end,
}
L
	git init -q . && git add -A && git -c user.name=t -c user.email=t@t commit -qm one
	echo v2 > web/page.txt
	run 2 cairn deploy //web:site
	has "POLICY.lua:4: error: deploy of //web:site to prod denied: uncommitted changes may not go to prod"
	[ ! -e stages/prod ] && [ ! -e stages/staging ] # asked before any stage changed
	git -c user.name=t -c user.email=t@t commit -qam two
	run 0 cairn deploy //web:site
	grep -qx v2 stages/prod/current/index.html
	run 0 cairn audit --json
	has '"kind": "denied"'
}

# Only a release whose required tests passed goes out: d.tests names them.
test_deploy_only_tested_releases() {
	dep_ws <<'L'
return {
  deploy = function(d)
    for _, t in ipairs(d.tests) do
      if t == "//web:unit" then return nil end
    end
    return "release " .. d.release:sub(1, 12) .. " was not tested by //web:unit"
  end,
}
L
	run 0 cairn deploy //web:site
	sed -i 's/requires_tests = { ":unit" },//' web/BUILD.lua
	echo v2 > web/page.txt
	run 2 cairn deploy //web:site
	has "denied: release "
	has "was not tested by //web:unit"
	grep -qx v1 stages/prod/current/index.html
}

# A stage that only named users may change: deploys, rollbacks and
# reconciles alike.
test_deploy_stage_for_named_users() {
	dep_ws <<'L'
local may = { alice = true }
return {
  deploy = function(d)
    if d.stage == "prod" and not may[d.user] then
      return d.user .. " may not change prod (" .. d.what .. ")"
    end
  end,
}
L
	USER=alice run 0 cairn deploy //web:site
	echo v2 > web/page.txt
	USER=mallory run 2 cairn deploy //web:site
	has "POLICY.lua:5: error: deploy of //web:site to prod denied: mallory may not change prod (deploy)"
	USER=alice run 0 cairn deploy //web:site
	USER=mallory run 2 cairn rollback //web:site
	has "rollback of //web:site to prod denied: mallory may not change prod (rollback)"
	has "staging: rolled back" # the stage it may change
	grep -qx v2 stages/prod/current/index.html
	chmod u+w stages/prod/current/index.html && echo hacked > stages/prod/current/index.html
	USER=mallory run 1 cairn reconcile
	has "reconcile of //web:site to prod denied"
	USER=alice run 0 cairn reconcile
	grep -qx v2 stages/prod/current/index.html
	run 0 cairn audit verify
}

# A module POLICY.lua loads is part of the policy: changing it alone
# checks the graph again, even when the build is otherwise a no-op.
test_a_module_of_the_policy_counts() {
	pol_ws
	write policy/rules.lua <<'L'
return { frozen = {} }
L
	write POLICY.lua <<'L'
local rules = load("//policy/rules.lua")
return {
  action = function(a)
    if rules.frozen[a.label] then
      return a.label .. " is frozen"
    end
  end,
}
L
	run 0 cairn build //app:a
	run 0 cairn build //app:a
	summary 0 2 0
	echo 'return { frozen = { ["//app:a"] = true } }' > policy/rules.lua
	run 2 cairn build //app:a
	has "POLICY.lua:5: error: action //app:a (Genrule) denied: //app:a is frozen"
}
