# Black-box tests of what BUILD files carried over from Bazel rely on
# (issue 11, item 7): a rule named like its output, local_defines,
# includes on binaries and tests, sources from other packages.

test_rule_named_like_its_output_is_a_warning() {
	ws
	write rules/m.lua <<'L'
local M = {}
function M.gen(args)
  genrule { name = args.name, outs = { args.name }, cmd = "echo " .. args.name .. " > $@" }
end
return M
L
	write p/BUILD.lua <<'L'
local m = load("//rules/m.lua")
genrule { name = "x", outs = { "x" }, cmd = "echo hi > $@" }
m.gen { name = "v" }
L
	# the same wording as Bazel's, at the rule (and the chain of a macro)
	run 0 cairn query //p:all
	golden rule_and_file
	run 0 cairn build
	has "p/BUILD.lua:2: warning: genrule //p:x: target 'x' is both a rule and a file"
	eq "$(cat cairn-out/p/x)" hi
	eq "$(cat cairn-out/p/v)" v
}

test_rule_named_like_its_output_names_the_rule() {
	ws
	# w writes two files, one named w: :w is the rule, both files
	write p/BUILD.lua <<'L'
genrule { name = "x", outs = { "x" }, cmd = "echo hi > $@" }
genrule { name = "w", outs = { "w", "w.h" }, cmd = "set -- $(OUTS); echo w > $1; echo wh > $2" }
genrule { name = "loc", srcs = { ":x" }, outs = { "loc.txt" }, cmd = "cat $(location :x) > $@" }
genrule { name = "plain", srcs = { "x", "//p:x" }, outs = { "plain.txt" }, cmd = "cat $< > $@" }
genrule { name = "all", srcs = { ":w" }, outs = { "all.txt" }, cmd = "cat $(SRCS) > $@" }
sh_test { name = "t", srcs = { "t.sh" }, data = { ":x" } }
L
	write p/t.sh <<'L'
[ "$(cat cairn-out/p/x)" = hi ]
L
	write q/BUILD.lua <<'L'
genrule { name = "q", srcs = { "//p:x", "//p:w" }, outs = { "q.txt" }, cmd = "cat $(SRCS) > $@" }
L
	# on the command line, //p:x builds the rule, and only it
	run 0 cairn build //p:x
	summary 1 0 0
	eq "$(cat cairn-out/p/x)" hi
	[ ! -e cairn-out/p/loc.txt ]
	run 0 cairn build //p:w
	eq "$(cat cairn-out/p/w cairn-out/p/w.h)" "w
wh"
	# in srcs, data and $(location), from the package and from another
	run 0 cairn test //p:t
	row //p:t PASSED
	run 0 cairn build
	eq "$(cat cairn-out/p/loc.txt)" hi
	eq "$(cat cairn-out/p/plain.txt)" hi
	eq "$(cat cairn-out/p/all.txt)" "w
wh"
	eq "$(cat cairn-out/q/q.txt)" "hi
w
wh"
	# query: the rule, not a file (the warnings go to stderr)
	eq "$(cairn query 'kind(genrule, //p:x)' 2>/dev/null)" //p:x
	eq "$(cairn query 'deps(//q:q)' 2>/dev/null)" "//p:w
//p:x
//q:q"
}

test_rule_and_file_clashes_are_still_errors() {
	ws
	# only a rule's own name may be one of its outputs
	write p/BUILD.lua <<'L'
genrule { name = "a", outs = { "b" }, cmd = "true" }
genrule { name = "b", outs = { "b.txt" }, cmd = "true" }
L
	run 2 cairn build
	has "p/BUILD.lua:2: error: genrule //p:b: target 'b' is already defined at p/BUILD.lua:1"
	write p/BUILD.lua <<'L'
genrule { name = "a", outs = { "a.txt" }, cmd = "true" }
genrule { name = "b", outs = { "b", "a" }, cmd = "true" }
L
	run 2 cairn build
	has "p/BUILD.lua:2: error: genrule //p:b: output 'a' clashes with target //p:a (p/BUILD.lua:1)"
	write p/BUILD.lua <<'L'
genrule { name = "b", outs = { "b", "b" }, cmd = "true" }
L
	run 2 cairn build
	has "p/BUILD.lua:1: error: genrule //p:b: output 'b' clashes with target //p:b (p/BUILD.lua:1)"
}

