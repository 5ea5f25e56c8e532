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

# //lib: a library with a define for dependents and one for itself; //mid
# uses it; //app uses mid. Each source checks what it must and must not see.
local_defines_ws() {
	ws
	write lib/BUILD.lua <<'L'
cc_library { name = "lib", srcs = { "lib.c" }, hdrs = { "lib.h" },
  defines = { "LIB_PUBLIC=1" }, local_defines = { "LIB_LOCAL=2", "LIB_BOTH=3" } }
L
	write lib/lib.h <<'L'
int lib_value(void);
L
	write lib/lib.c <<'L'
#include "lib/lib.h"
#if LIB_LOCAL != 2 || LIB_PUBLIC != 1
#error a library's own sources see its local_defines and defines
#endif
int lib_value(void) { return LIB_LOCAL + LIB_BOTH; }
L
	write mid/BUILD.lua <<'L'
cc_library { name = "mid", srcs = { "mid.c" }, hdrs = { "mid.h" }, deps = { "//lib" },
  local_defines = { "MID_LOCAL=10" } }
L
	write mid/mid.h <<'L'
int mid_value(void);
L
	write mid/mid.c <<'L'
#include "lib/lib.h"
#include "mid/mid.h"
#if defined(LIB_LOCAL) || defined(LIB_BOTH)
#error local_defines of a dependency must not reach its dependents
#endif
int mid_value(void) { return lib_value() + LIB_PUBLIC + MID_LOCAL; }
L
	write app/BUILD.lua <<'L'
cc_binary { name = "app", srcs = { "main.c" }, deps = { "//mid" }, local_defines = { "APP_LOCAL=100" } }
cc_test { name = "test", srcs = { "test.c" }, deps = { "//mid" }, local_defines = { "WANT=117" } }
L
	write app/main.c <<'L'
#include <stdio.h>
#include "mid/mid.h"
#if defined(LIB_LOCAL) || defined(LIB_BOTH) || defined(MID_LOCAL)
#error local_defines of a dependency must not reach its dependents
#endif
int main(void) { printf("%d\n", mid_value() + APP_LOCAL + LIB_PUBLIC); return 0; }
L
	write app/test.c <<'L'
#include "mid/mid.h"
#ifdef MID_LOCAL
#error local_defines of a dependency must not reach its dependents
#endif
int main(void) { return mid_value() + 100 + LIB_PUBLIC == WANT ? 0 : 1; }
L
}

test_local_defines_reach_only_the_targets_own_sources() {
	local_defines_ws
	run 0 cairn build
	eq "$(./cairn-out/app/app)" 117
	run 0 cairn test //app:test
	row //app:test PASSED
	# on the compile lines: the target's own, never a dependent's
	run 0 cairn compdb
	python3 - <<'P'
import json
db = {e["file"]: e["arguments"] for e in json.load(open("compile_commands.json"))}
assert "-DLIB_LOCAL=2" in db["lib/lib.c"] and "-DLIB_PUBLIC=1" in db["lib/lib.c"]
for f in ("mid/mid.c", "app/main.c", "app/test.c"):
    assert "-DLIB_PUBLIC=1" in db[f], f
    assert not any(a.startswith("-DLIB_LOCAL") or a.startswith("-DLIB_BOTH") for a in db[f]), f
assert "-DMID_LOCAL=10" in db["mid/mid.c"] and "-DMID_LOCAL=10" not in db["app/main.c"]
assert "-DAPP_LOCAL=100" in db["app/main.c"] and "-DAPP_LOCAL=100" not in db["app/test.c"]
P
	# a change to local_defines rebuilds the target's own objects only
	sed -i 's/MID_LOCAL=10/MID_LOCAL=20/' mid/BUILD.lua
	run 0 cairn build --explain
	has "explain: //mid:mid CC: command changed"
	lacks "//lib:lib CC"
	lacks "//app:app CC"
	eq "$(./cairn-out/app/app)" 127
	# and it is checked as a list of strings
	write mid/BUILD.lua <<'L'
cc_library { name = "mid", srcs = { "mid.c" }, local_defines = "MID_LOCAL=10" }
L
	run 2 cairn build
	has "mid/BUILD.lua:1: error: cc_library //mid:mid: attribute 'local_defines' must be a list of strings, got string"
}

test_includes_on_binary_and_test() {
	ws
	write app/BUILD.lua <<'L'
cc_binary { name = "app", srcs = { "main.c", "inc/app.h" }, includes = { "inc" } }
cc_test { name = "test", srcs = { "test.c", "inc/app.h", "gen/gen.h" }, includes = { "inc", "gen" } }
L
	write app/inc/app.h <<'L'
#define APP_VALUE 42
L
	write app/gen/gen.h <<'L'
#define GEN_VALUE 1
L
	write app/main.c <<'L'
#include <stdio.h>
#include <app.h>
int main(void) { printf("%d\n", APP_VALUE); return 0; }
L
	write app/test.c <<'L'
#include "app.h"
#include "gen.h"
int main(void) { return APP_VALUE + GEN_VALUE == 43 ? 0 : 1; }
L
	run 0 cairn build
	eq "$(./cairn-out/app/app)" 42
	run 0 cairn test
	row //app:test PASSED
	# a binary's includes stay inside its package, as a library's
	write app/BUILD.lua <<'L'
cc_binary { name = "app", srcs = { "main.c" }, includes = { "../inc" } }
L
	run 2 cairn build
	has "app/BUILD.lua:1: error: //app:app: includes must stay inside the package: '../inc'"
}

# //tools:t compiles sources of its own package and of others, three of
# them named util.c, one generated in another package.
other_packages_ws() {
	ws
	write lib/BUILD.lua <<'L'
genrule { name = "gen", outs = { "gen.c" }, cmd = "echo 'int gen(void) { return 64; }' > $@" }
L
	write lib/strtoofft.c <<'L'
int strtoofft(void) { return 1; }
L
	write lib/util.c <<'L'
int lib_util(void) { return 2; }
L
	write other/BUILD.lua <<'L'
filegroup { name = "srcs", srcs = { "util.c" } }
L
	write other/util.c <<'L'
int other_util(void) { return 4; }
L
	write tools/BUILD.lua <<'L'
cc_binary { name = "t", srcs = { "main.c", "util.c", "sub/util.c", "//lib:strtoofft.c",
  "//lib:util.c", "//other:srcs", "//lib:gen.c" } }
L
	write tools/util.c <<'L'
int own_util(void) { return 8; }
L
	write tools/sub/util.c <<'L'
int sub_util(void) { return 16; }
L
	write tools/main.c <<'L'
#include <stdio.h>
int strtoofft(void), lib_util(void), other_util(void), own_util(void), sub_util(void), gen(void);
int main(void)
{
	printf("%d\n", strtoofft() + lib_util() + other_util() + own_util() + sub_util() + gen());
	return 0;
}
L
}

test_sources_from_other_packages_get_their_own_objects() {
	other_packages_ws
	run 0 cairn build -v
	eq "$(./cairn-out/tools/t)" 95
	# named by the path from the package, or from the root for another
	# package's: never cut, never the same for two sources
	for o in main util sub/util _root/lib/strtoofft _root/lib/util _root/other/util _root/lib/gen; do
		has "-o cairn-out/tools/_objs/t/$o.o"
		[ -f "cairn-out/tools/_objs/t/$o.o" ]
	done
	run 0 cairn build
	summary 0 9 0
	# the root package names every source by its path from the root
	write BUILD.lua <<'L'
cc_binary { name = "r", srcs = { "//tools:main.c", "//tools:util.c", "//tools:sub/util.c",
  "//lib:strtoofft.c", "//lib:util.c", "//other:util.c", "//lib:gen.c" } }
L
	run 0 cairn build //:r -v
	eq "$(./cairn-out/r)" 95
	for o in tools/main tools/util tools/sub/util lib/strtoofft lib/util other/util lib/gen; do
		has "-o cairn-out/_objs/r/$o.o"
	done
}

test_sources_whose_object_names_meet_stay_apart() {
	ws
	# a.c and a.cc; a directory of the package named like the prefix of
	# another package's sources
	write lib/BUILD.lua <<'L'
filegroup { name = "x", srcs = { "x.c" } }
L
	write lib/x.c <<'L'
int lib_x(void) { return 1; }
L
	write p/BUILD.lua <<'L'
cc_binary { name = "b", srcs = { "main.c", "a.c", "a.cc", "_root/lib/x.c", "//lib:x" } }
L
	write p/a.c <<'L'
int a_c(void) { return 2; }
L
	write p/a.cc <<'L'
extern "C" int a_cc(void) { return 4; }
L
	write p/_root/lib/x.c <<'L'
int own_x(void) { return 8; }
L
	write p/main.c <<'L'
#include <stdio.h>
int lib_x(void), a_c(void), a_cc(void), own_x(void);
int main(void) { printf("%d\n", lib_x() + a_c() + a_cc() + own_x()); return 0; }
L
	run 0 cairn build -v
	eq "$(./cairn-out/p/b)" 15
	for o in main a a.cc _root/lib/x _root/lib/x.c; do has "-o cairn-out/p/_objs/b/$o.o"; done
}
