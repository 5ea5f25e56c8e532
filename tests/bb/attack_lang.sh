# Black-box tests of hostile build files (security review, issue 10):
# each is stopped at once with a user error at its file and line (exit 2),
# and leaves no trace in the graph.

# stack_ws: a workspace whose p/BUILD.lua is stdin.
stack_ws() { ws; write p/BUILD.lua; }

# chain_lines: the number of "called from" lines in $out.
chain_lines() { printf '%s\n' "$out" | grep -c '^  called from' || true; }

test_runaway_recursion_stops_at_once() {
	# plain Lua stops this at once; a message handler that walks the stack
	# level by level takes hours over the 500k levels it leaves
	stack_ws <<'L'
local function f(n) return f(n + 1) + 1 end
f(1)
L
	run 2 timeout 60 "$CAIRN" build
	has "p/BUILD.lua:1: error: stack overflow"
	# the 10 innermost and 10 outermost calls, the rest counted
	eq "$(chain_lines)" 20
	printf '%s\n' "$out" | grep -qE '^  \.\.\. [0-9]+ more calls$'
	eq "$(printf '%s\n' "$out" | tail -n 1)" "  called from p/BUILD.lua:2"
}

test_runaway_recursion_in_a_module() {
	write rules/m.lua <<'L'
local M = {}
function M.deep(t) return { M.deep(t) } end
return M
L
	stack_ws <<'L'
local m = load("//rules/m.lua")

m.deep {}
L
	run 2 timeout 60 "$CAIRN" build
	has "rules/m.lua:2: error: stack overflow"
	eq "$(chain_lines)" 20
	eq "$(printf '%s\n' "$out" | tail -n 2)" "  called from rules/m.lua:2
  called from p/BUILD.lua:3"
}

test_long_chain_is_capped() {
	# 31 frames below the error: 10, the 11 between counted, 10
	stack_ws <<'L'
local function f(n)
  if n == 0 then error("boom") end
  return f(n - 1) + 1
end
f(30)
L
	run 2 timeout 60 "$CAIRN" build
	golden long_chain
}

test_out_of_memory_names_the_file() {
	write WORKSPACE.lua <<'L'
workspace { lua_memory_limit = "16M" }
L
	write p/BUILD.lua <<'L'
local t = {}
local i = 0
while true do i = i + 1; t[i] = "x" .. i end
L
	run 2 timeout 60 "$CAIRN" build
	golden out_of_memory
	[ ! -e .cairn/graph ]
}

test_out_of_memory_at_once() {
	# one allocation over the limit, in a C function called by a module
	write WORKSPACE.lua <<'L'
workspace { lua_memory_limit = "16M" }
L
	write rules/big.lua <<'L'
return string.rep("x", 64 * 1024 * 1024)
L
	write p/BUILD.lua <<'L'
local big = load("//rules/big.lua")
L
	run 2 timeout 60 "$CAIRN" build
	eq "$out" 'rules/big.lua:1: error: out of memory: evaluation may take at most 16 MiB (raise it with workspace{ lua_memory_limit = ... } in WORKSPACE.lua)
  loaded from p/BUILD.lua:1'
}

test_out_of_memory_in_a_rule_impl() {
	write WORKSPACE.lua <<'L'
workspace { lua_memory_limit = "32M" }
L
	write rules/r.lua <<'L'
return { r = rule { attrs = {}, impl = function(ctx)
  local s = "x"
  while true do s = s .. s end
end } }
L
	write p/BUILD.lua <<'L'
load("//rules/r.lua").r { name = "x" }
L
	run 2 timeout 60 "$CAIRN" build
	eq "$out" 'rules/r.lua:3: error: out of memory: evaluation may take at most 32 MiB (raise it with workspace{ lua_memory_limit = ... } in WORKSPACE.lua)
  while analyzing //p:x (p/BUILD.lua:1)'
}

test_memory_limit_setting() {
	ws
	write p/BUILD.lua <<'L'
genrule { name = "x", outs = { "x.txt" }, cmd = "echo hi > $@" }
L
	for bad in '"lots"' '"1M"' '-1' '"16T"' '{}'; do
		write WORKSPACE.lua <<L
workspace { lua_memory_limit = $bad }
L
		run 2 cairn build
		has "WORKSPACE.lua:1: error: workspace: lua_memory_limit must be a size such as \"512M\" or \"8G\", 16M at least"
	done
	write WORKSPACE.lua <<'L'
workspace { lua_memory = "1G" }
L
	run 2 cairn build
	has "WORKSPACE.lua:1: error: workspace: unknown setting 'lua_memory'"
	write WORKSPACE.lua <<'L'
workspace { lua_memory_limit = "1G" }
L
	run 0 cairn build
	summary 1 0 0
	# build files cannot raise it
	write p/BUILD.lua <<'L'
workspace { lua_memory_limit = "64G" }
L
	run 2 cairn build
	has "p/BUILD.lua:1: error: attempt to call a nil value (global 'workspace')"
}

# nul NAME: the build in p must fail with the golden error NAME, before
# anything runs.
nul() {
	run 2 cairn build
	golden "$1"
	lacks "actions:"
	[ ! -e pwned ]
}

test_nul_in_target_name() {
	stack_ws <<'L'
genrule { name = "x\0/../../y", outs = { "x.txt" }, cmd = "echo hi > $@" }
L
	nul nul_name
}

test_nul_in_output() {
	stack_ws <<'L'
genrule { name = "x", outs = { "x.txt\0/../../../pwned" }, cmd = "touch $@" }
L
	nul nul_output
}

test_nul_in_command() {
	stack_ws <<'L'
genrule { name = "x", outs = { "x.txt" }, cmd = "echo hi > $@\0; touch pwned" }
L
	nul nul_cmd
}

test_nul_in_label() {
	stack_ws <<'L'
genrule { name = "x", srcs = { "in\0/../../etc/passwd" }, outs = { "x.txt" }, cmd = "cp $< $@" }
L
	echo in > p/in
	nul nul_label
}

test_nul_in_other_attributes() {
	ws
	for a in 'env = { A = "a\0b" }' 'env = { ["A\0B"] = "b" }' 'tags = { "no-\0sandbox" }' \
		'visibility = { "//a\0b" }' 'srcs = glob { "*\0" }'; do
		write p/BUILD.lua <<L
genrule { name = "x", outs = { "x.txt" }, cmd = "echo hi > \$@", $a }
L
		run 2 cairn build
		has "p/BUILD.lua:1: error: "
		has "contains a NUL byte"
		lacks "actions:"
	done
}

test_nul_in_an_action_of_a_rule() {
	write rules/r.lua <<'L'
return { r = rule { attrs = {}, impl = function(ctx)
  local out = ctx.declare_file(ctx.label.name .. ".txt")
  ctx.action { argv = { "sh", "-c", "echo hi > " .. out.path .. "\0; touch pwned" }, outputs = { out } }
  return { files = { out } }
end } }
L
	stack_ws <<'L'
load("//rules/r.lua").r { name = "x" }
L
	nul nul_argv
	write rules/r.lua <<'L'
return { r = rule { attrs = {}, impl = function(ctx)
  local out = ctx.declare_file(ctx.label.name .. ".txt\0/../../../pwned")
  ctx.action { argv = { "touch", out.path }, outputs = { out } }
  return { files = { out } }
end } }
L
	run 2 cairn build
	has "rules/r.lua:2: error: ctx.declare_file: bad name 'x.txt\0/../../../pwned': target name has a NUL byte"
	has "  while analyzing //p:x (p/BUILD.lua:1)"
	[ ! -e pwned ]
}

test_nul_in_a_message_is_shown() {
	stack_ws <<'L'
print("a\0b")
fail("c\0d")
L
	run 2 cairn build
	eq "$out" 'DEBUG: p/BUILD.lua:1: a\0b
p/BUILD.lua:2: error: c\0d'
}
