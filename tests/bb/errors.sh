# Black-box tests of bad input: each gets a clear message (golden file),
# exit 2, and leaves .cairn/ and the cache as they were.

# A workspace with a good build done, so state and cache exist.
good_ws() {
	ws
	write ok/BUILD.lua <<'L'
genrule { name = "ok", srcs = { "in" }, outs = { "ok.txt" }, cmd = "cp $< $@" }
L
	echo in > ok/in
	cairn build >/dev/null
	snap_before=$(snap)
}

# Checksums of the state and the cache.
snap() { { tree_sum .cairn; tree_sum "$XDG_CACHE_HOME/cairn"; } | grep -v ' ./lock$'; }

# bad NAME: build must fail with exit 2, match golden NAME, keep state.
bad() {
	run 2 cairn build "$@"
	golden "$GOLDEN"
	eq "$(snap)" "$snap_before"
}

test_lua_syntax_error() {
	good_ws
	write p/BUILD.lua <<'L'
genrule { name = "x",
  outs = { "x" }
  cmd = "true" }
L
	GOLDEN=lua_syntax bad
}

test_lua_runtime_error() {
	good_ws
	write p/BUILD.lua <<'L'
local t = nil
genrule { name = t.name }
L
	GOLDEN=lua_runtime bad
}

test_forbidden_global() {
	good_ws
	for g in io os require dofile loadfile debug; do
		write p/BUILD.lua <<L
local x = $g
L
		run 2 cairn build
		has "p/BUILD.lua:1: error: '$g' is not available in build files (they are sandboxed)"
	done
	write p/BUILD.lua <<'L'
io.open("/etc/passwd")
L
	GOLDEN=forbidden_global bad
}

test_unknown_attribute() {
	good_ws
	write p/BUILD.lua <<'L'
genrule { name = "x", outs = { "x.txt" }, cmd = "true", srcz = { "a" } }
L
	GOLDEN=unknown_attr bad
}

test_wrong_attribute_type() {
	good_ws
	write p/BUILD.lua <<'L'
genrule { name = "x", outs = "x.txt", cmd = "true" }
L
	GOLDEN=wrong_type bad
}

test_missing_mandatory_attribute() {
	good_ws
	write p/BUILD.lua <<'L'

genrule { name = "x", outs = { "x.txt" } }
L
	GOLDEN=missing_mandatory bad
}

test_error_in_macro_shows_chain() {
	good_ws
	write rules/m.lua <<'L'
local M = {}
function M.pair(args)
  genrule { name = args.name, outs = { args.name .. ".txt" }, cmd = 42 }
end
return M
L
	write p/BUILD.lua <<'L'
local m = load("//rules/m.lua")

m.pair { name = "x" }
L
	GOLDEN=macro_chain bad
}

test_error_in_loaded_module_shows_chain() {
	good_ws
	write rules/broken.lua <<'L'
local M = {}
M.x = undefined_function()
return M
L
	write p/BUILD.lua <<'L'
local m = load("//rules/broken.lua")
L
	GOLDEN=load_chain bad
}

test_error_in_rule_impl() {
	good_ws
	write rules/r.lua <<'L'
return { r = rule { attrs = {}, impl = function(ctx)
  ctx.action { argv = { "true" }, outputs = {} }
end } }
L
	write p/BUILD.lua <<'L'
load("//rules/r.lua").r { name = "x" }
L
	GOLDEN=impl_error bad
}

test_bad_label() {
	good_ws
	write p/BUILD.lua <<'L'
genrule { name = "x", srcs = { "//a/../b:c" }, outs = { "x.txt" }, cmd = "true" }
L
	GOLDEN=bad_label bad
}

test_missing_package() {
	good_ws
	write p/BUILD.lua <<'L'
genrule { name = "x", srcs = { "//nowhere:thing" }, outs = { "x.txt" }, cmd = "true" }
L
	GOLDEN=missing_package bad
}

test_missing_target() {
	good_ws
	write p/BUILD.lua <<'L'
genrule { name = "x", srcs = { "//ok:nothing" }, outs = { "x.txt" }, cmd = "true" }
L
	GOLDEN=missing_target bad
}

test_missing_source_file() {
	good_ws
	write p/BUILD.lua <<'L'
genrule { name = "x", srcs = { "absent.c" }, outs = { "x.txt" }, cmd = "true" }
L
	GOLDEN=missing_source bad
}

test_duplicate_output() {
	good_ws
	write rules/d.lua <<'L'
return { d = rule { attrs = {}, impl = function(ctx)
  local f = ctx.declare_file("same.txt")
  ctx.action { cmd = "true", outputs = { f } }
  ctx.action { cmd = "true", outputs = { f } }
end } }
L
	write p/BUILD.lua <<'L'
load("//rules/d.lua").d { name = "x" }
L
	GOLDEN=duplicate_output bad
}

test_duplicate_target() {
	good_ws
	write p/BUILD.lua <<'L'
genrule { name = "x", outs = { "a.txt" }, cmd = "true" }
genrule { name = "x", outs = { "b.txt" }, cmd = "true" }
L
	GOLDEN=duplicate_target bad
}

test_cycle() {
	good_ws
	write a/BUILD.lua <<'L'
genrule { name = "x", srcs = { "//b:y" }, outs = { "x.txt" }, cmd = "true" }
L
	write b/BUILD.lua <<'L'
genrule { name = "y", srcs = { "//a:x" }, outs = { "y.txt" }, cmd = "true" }
L
	GOLDEN=cycle bad //a:x
}

test_visibility_violation() {
	good_ws
	write lib/BUILD.lua <<'L'
genrule { name = "secret", outs = { "s.txt" }, cmd = "true", visibility = { "//lib/..." } }
L
	write app/BUILD.lua <<'L'
genrule { name = "x", srcs = { "//lib:secret" }, outs = { "x.txt" }, cmd = "true" }
L
	GOLDEN=visibility bad
}

test_unknown_command_and_flag() {
	good_ws
	run 2 cairn frobnicate
	golden unknown_command
	run 2 cairn build --frob
	golden unknown_flag
	run 2 cairn build -j zero
	has "-j wants a number"
	run 2 cairn build --color=purple
	has "--color wants auto, always or never"
	run 2 cairn gc --max-size lots
	has "--max-size wants a size"
	run 2 cairn build //bad//pattern
	has "bad pattern"
	eq "$(snap)" "$snap_before"
}

test_not_a_workspace() {
	run 2 cairn build
	has "not in a workspace"
}

test_bad_glob_and_load() {
	good_ws
	write p/BUILD.lua <<'L'
load("//rules/none.lua")
L
	run 2 cairn build
	has "p/BUILD.lua:1: error: load: no such module '//rules/none.lua'"
	write p/BUILD.lua <<'L'
load("rules.lua")
L
	run 2 cairn build
	has "load: bad module label 'rules.lua'"
	write p/BUILD.lua <<'L'
local x = glob { "../*" }
L
	run 2 cairn build
	has "p/BUILD.lua:1: error: glob: pattern '../*' leaves the package"
	eq "$(snap)" "$snap_before"
}

test_genrule_cmd_errors() {
	good_ws
	write p/BUILD.lua <<'L'
genrule { name = "x", outs = { "a.txt", "b.txt" }, cmd = "echo > $@" }
L
	run 2 cairn build
	has "p/BUILD.lua:1: error: //p:x: \$@ needs exactly one output, there are 2"
	write p/BUILD.lua <<'L'
genrule { name = "x", outs = { "a.txt" }, cmd = "echo $(HOME) > $@" }
L
	run 2 cairn build
	has "unknown variable \$(HOME) in cmd"
	eq "$(snap)" "$snap_before"
}

test_action_cycle_inside_a_rule() {
	good_ws
	write rules/c.lua <<'L'
return { c = rule { attrs = {}, impl = function(ctx)
  local a, b = ctx.declare_file("a.txt"), ctx.declare_file("b.txt")
  ctx.action { cmd = "true", inputs = { b }, outputs = { a } }
  ctx.action { cmd = "true", inputs = { a }, outputs = { b } }
  return { files = { a } }
end } }
L
	write p/BUILD.lua <<'L'
load("//rules/c.lua").c { name = "x" }
L
	GOLDEN=action_cycle bad
}

test_declared_file_never_written() {
	good_ws
	write rules/d.lua <<'L'
return { d = rule { attrs = {}, impl = function(ctx)
  return { files = { ctx.declare_file("never.txt") } }
end } }
L
	write p/BUILD.lua <<'L'
load("//rules/d.lua").d { name = "d" }
L
	run 2 cairn build
	has "p/BUILD.lua:1: error: //p:d declares 'never.txt' but no action writes it"
	eq "$(snap)" "$snap_before"
}

test_shared_libraries_are_read_only() {
	good_ws
	write a/BUILD.lua <<'L'
table.concat = function() return "HACKED" end
L
	run 2 cairn build
	has "a/BUILD.lua:1: error: table is read-only (cannot set 'concat')"
	write a/BUILD.lua <<'L'
attr.string = nil
L
	run 2 cairn build
	has "attr is read-only"
}

test_hidden_and_output_directories_are_not_packages() {
	good_ws
	mkdir -p .hidden && echo 'genrule { name = "h", outs = { "h" }, cmd = "true" }' > .hidden/BUILD.lua
	write p/BUILD.lua <<'L'
genrule { name = "x", srcs = { "//.hidden:h" }, outs = { "x.txt" }, cmd = "true" }
L
	run 2 cairn build //p:x
	has "no such package '.hidden'"
	run 2 cairn build //cairn-out/ok:ok
	has "no such package 'cairn-out/ok'"
	eq "$(snap)" "$snap_before"
}

test_damaged_config_is_rebuilt() {
	ws
	write p/BUILD.lua <<'L'
cc_binary { name = "b", srcs = { "b.c" } }
L
	echo 'int main(void) { return 0; }' > p/b.c
	run 0 cairn build
	printf 'garbage\n' > .cairn/config
	run 0 cairn build
	summary 0 2 0
	head -1 .cairn/config | grep -q '^cairn-config 1$'
}

test_flag_values_are_checked() {
	ws
	run 2 cairn build --color=x
	has "error: --color wants auto, always or never, not 'x'"
	run 2 cairn build --test_output bad
	has "error: --test_output wants errors, all or summary, not 'bad'"
	run 2 cairn build -j0
	has "error: -j wants a number of jobs from 1 to 4096, not '0'"
	for bad in +4 " 4" 99999999999999999999; do
		run 2 cairn build -j "$bad"
		has "error: -j wants a number of jobs from 1 to 4096, not '$bad'"
	done
	run 2 cairn build -j
	has "error: flag '-j' needs a value"
	run 2 cairn gc --max-size lots
	has "error: --max-size wants a size such as 10G or 500M, not 'lots'"
	run 2 cairn build --explain=yes
	has "error: flag '--explain' takes no value"
	write BUILD.lua <<< 'genrule { name = "x", outs = { "x.txt" }, cmd = "echo x > $@" }'
	run 0 cairn build -j 3 --color=never --sandbox none -k --test_output=all
	run 0 cairn build -j2 --color always --sandbox=auto --keep-going
}
