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
