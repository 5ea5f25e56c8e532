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

