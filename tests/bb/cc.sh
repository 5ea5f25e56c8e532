# Black-box tests of the C rules, `cairn test`, `cairn run` and `compdb`.

# //base (a header-only define + an include dir), //mid (uses base), and an
# application using mid; each source includes what it needs.
c_ws() {
	ws
	write base/BUILD.lua <<'L'
cc_library { name = "base", srcs = { "base.c" }, hdrs = { "inc/base.h" },
  includes = { "inc" }, defines = { "BASE_N=40" }, copts = { "-DBASE_ONLY=1" } }
L
	write base/inc/base.h <<'L'
int base_value(void);
L
	write base/base.c <<'L'
#include "base.h"
#ifndef BASE_ONLY
#error copts of base must reach the sources of base
#endif
int base_value(void) { return BASE_N; }
L
	write mid/BUILD.lua <<'L'
cc_library { name = "mid", srcs = { "mid.c", "private.h" }, hdrs = { "mid.h" }, deps = { "//base" } }
L
	write mid/mid.h <<'L'
int mid_value(void);
L
	write mid/private.h <<'L'
#define EXTRA 2
L
	write mid/mid.c <<'L'
#include "mid/mid.h"
#include "mid/private.h"
#include "base.h"
int mid_value(void) { return base_value() + EXTRA; }
L
	write app/BUILD.lua <<'L'
cc_binary { name = "app", srcs = { "main.c" }, deps = { "//mid" } }
cc_binary { name = "other", srcs = { "other.c" }, deps = { "//mid" } }
L
	write app/main.c <<'L'
#include <stdio.h>
#include <stdlib.h>
#include "mid/mid.h"
#ifdef BASE_ONLY
#error copts must not reach dependents
#endif
int main(int argc, char **argv) { printf("%d %d\n", mid_value(), BASE_N); return argc > 1 ? atoi(argv[1]) : 0; }
L
	write app/other.c <<'L'
int main(void) { return 0; }
L
}

test_library_binary_and_transitive_flags() {
	c_ws
	run 0 cairn build
	eq "$(./cairn-out/app/app)" "42 40"
	run 0 cairn build
	summary 0 8 0
}

test_header_edit_rebuilds_exactly_its_includers() {
	c_ws
	run 0 cairn build
	echo '#define EXTRA 3' > mid/private.h
	run 0 cairn build --explain
	# only mid.c includes private.h: its object, the archive, two links
	has "explain: //mid:mid CC: input changed: mid/private.h"
	lacks "//app:app CC"
	lacks "//app:other CC"
	summary 4 4 0
	eq "$(./cairn-out/app/app)" "43 40"
	# a header nobody includes changes nothing
	echo '/* unused */' > mid/unused.h
	sed -i 's/"mid.h"/"mid.h", "unused.h"/' mid/BUILD.lua
	run 0 cairn build
	echo '/* still unused */' > mid/unused.h
	run 0 cairn build
	summary 0 8 0
}

test_generated_header_and_source() {
	ws
	write g/BUILD.lua <<'L'
genrule { name = "hdr", outs = { "gen.h" }, cmd = "echo '#define GEN 7' > $@" }
genrule { name = "src", outs = { "gen.c" }, cmd = "echo 'int gen(void) { return GEN; }' > $@" }
cc_library { name = "g", srcs = { ":src" }, hdrs = { ":hdr" }, copts = { "-include", "g/gen.h" } }
cc_binary { name = "b", srcs = { "b.c" }, deps = { ":g" } }
L
	write g/b.c <<'L'
#include "g/gen.h"
int gen(void);
int main(void) { return gen() == GEN ? 0 : 1; }
L
	run 0 cairn build
	./cairn-out/g/b
}

test_compile_error_prints_compiler_output_once() {
	ws
	write p/BUILD.lua <<'L'
cc_binary { name = "bad", srcs = { "bad.c" } }
L
	write p/bad.c <<'L'
int main(void) { return undefined_thing; }
L
	run 1 cairn build
	has "FAILED: //p:bad CC (exit 1)"
	has "-c p/bad.c -o cairn-out/p/_objs/bad/bad.o"
	eq "$(printf '%s\n' "$out" | grep -c "undefined_thing. undeclared")" 1
}

test_link_error_fails() {
	ws
	write p/BUILD.lua <<'L'
cc_binary { name = "b", srcs = { "b.c" } }
L
	write p/b.c <<'L'
int missing(void);
int main(void) { return missing(); }
L
	run 1 cairn build
	has "FAILED: //p:b Link (exit 1)"
	has "missing"
}

test_c_rule_bad_input() {
	ws
	write p/BUILD.lua <<'L'
cc_binary { name = "b", srcs = { "b.c" }, deps = { ":nope" } }
L
	write p/b.c <<< 'int main(void) { return 0; }'
	run 2 cairn build
	has "p/BUILD.lua:1: error: //p:b: no such target or source file '//p:nope'"
	write p/BUILD.lua <<'L'
genrule { name = "g", outs = { "g.txt" }, cmd = "true" }
cc_binary { name = "b", srcs = { "b.c" }, deps = { ":g" } }
L
	run 2 cairn build
	has "p/BUILD.lua:2: error: //p:b: //p:g is not a C library (cc_library), in deps"
	write p/BUILD.lua <<'L'

cc_test { name = "t" }
L
	run 2 cairn build
	has "p/BUILD.lua:2: error: //p:t: a cc_test needs at least one C source in srcs"
	write p/BUILD.lua <<'L'
cc_binary { name = "b", srcs = { "b.c" } }
L
	rm -rf .cairn
	CC=/nonexistent/cc run 2 cairn build
	has "p/BUILD.lua:1: error: //p:b: no C compiler: the C compiler '/nonexistent/cc' (from \$CC) was not found"
}

test_compiler_change_changes_keys() {
	c_ws
	run 0 cairn build
	gcc_path=$(command -v gcc)
	CC="$gcc_path" run 0 cairn build
	summary 6 2 0
	CC="$gcc_path" run 0 cairn build
	summary 0 8 0
}

test_run_passes_args_and_exit_code() {
	c_ws
	run 0 cairn run //app:app
	has "42 40"
	run 3 cairn run //app:app -- 3
	run 2 cairn run //base:base
	has "not an executable target"
}

test_compdb_for_clangd() {
	c_ws
	run 0 cairn compdb
	python3 - <<'P'
import json, os
db = json.load(open("compile_commands.json"))
files = sorted(e["file"] for e in db)
assert files == ["app/main.c", "app/other.c", "base/base.c", "mid/mid.c"], files
for e in db:
    assert e["directory"] == os.getcwd()
    assert e["arguments"][0].startswith("/") and "-c" in e["arguments"]
mid = [e for e in db if e["file"] == "mid/mid.c"][0]
assert "-DBASE_N=40" in mid["arguments"] and "-Ibase/inc" in mid["arguments"]
assert "-DBASE_ONLY=1" not in mid["arguments"]
P
}

test_tests_pass_fail_and_are_cached() {
	ws
	write t/BUILD.lua <<'L'
sh_test { name = "good", srcs = { "good.sh" }, args = { "a b", "c" }, env = { WHO = "me" },
  data = { "data.txt" } }
sh_test { name = "bad", srcs = { "bad.sh" } }
cc_test { name = "ctest", srcs = { "t.c" } }
L
	write t/good.sh <<'L'
[ "$1" = "a b" ] && [ "$2" = c ] && [ "$WHO" = me ] || exit 1
[ "$(cat t/data.txt)" = data ] || exit 1
[ -d "$TEST_TMPDIR" ] && [ -z "$(ls -A "$TEST_TMPDIR")" ] || exit 1
echo good-output
L
	echo data > t/data.txt
	write t/bad.sh <<'L'
echo bad-output; exit 4
L
	write t/t.c <<< 'int main(void) { return 0; }'
	run 1 cairn test --events ev.json
	row "//t:good" PASSED
	row "//t:bad" FAILED
	has "(cairn-out/t/bad.log)"
	has "bad-output"
	lacks "good-output"
	row //t:ctest PASSED
	has "cairn: 3 tests: 2 passed, 1 failed, 0 not run"
	grep -q '"type":"test","label":"//t:bad"' ev.json
	python3 - <<'P'
import xml.etree.ElementTree as ET
r = ET.parse("cairn-out/t/bad.xml").getroot()
assert r.find("testsuite").get("failures") == "1"
r = ET.parse("cairn-out/t/good.xml").getroot()
assert r.find("testsuite").get("failures") == "0"
assert "good-output" in r.find("testsuite/testcase/system-out").text
P
	run 1 cairn test //t:good //t:bad --test_output=all
	row "//t:good" cached
	row "//t:bad" FAILED
	echo 'echo fixed' > t/bad.sh
	run 0 cairn test
	row "//t:bad" PASSED
	row "//t:good" cached
}

test_test_timeout_kills_the_process_group() {
	ws
	write t/BUILD.lua <<'L'
sh_test { name = "slow", srcs = { "slow.sh" }, timeout = 1 }
L
	write t/slow.sh <<'L'
sleep 97 &
sleep 98
L
	start=$(date +%s)
	run 1 cairn test
	row "//t:slow" TIMEOUT
	[ $(( $(date +%s) - start )) -lt 20 ]
	sleep 0.2
	fails pgrep -f "sleep 9[78]" >/dev/null
}

test_flaky_test_is_retried() {
	ws
	write t/BUILD.lua <<'L'
sh_test { name = "flaky", srcs = { "flaky.sh" }, flaky = true, tags = { "no-sandbox" } }
sh_test { name = "always", srcs = { "always.sh" }, flaky = true, tags = { "no-sandbox" } }
L
	# fails twice, then passes: the count lives outside the workspace,
	# which only an unsandboxed test can write
	write t/flaky.sh <<L
n=\$(cat $PWD/../count 2>/dev/null || echo 0); n=\$((n + 1)); echo \$n > $PWD/../count
[ \$n -ge 3 ]
L
	write t/always.sh <<L
echo attempt >> $PWD/../attempts; exit 1
L
	run 1 cairn test -k
	row "//t:flaky" FLAKY
	row "//t:always" FAILED
	eq "$(cat ../count)" 3
	eq "$(wc -l < ../attempts)" 3
}

test_sharded_test() {
	ws
	write t/BUILD.lua <<'L'
sh_test { name = "sh", srcs = { "s.sh" }, shard_count = 3 }
L
	write t/s.sh <<'L'
echo "shard $TEST_SHARD_INDEX of $TEST_TOTAL_SHARDS"
L
	run 0 cairn test
	row "//t:sh (shard 1/3)" PASSED
	row "//t:sh (shard 3/3)" PASSED
	grep -q "shard 0 of 3" cairn-out/t/sh.shard_1_of_3.log
	grep -q "shard 2 of 3" cairn-out/t/sh.shard_3_of_3.log
	python3 -c '
import xml.etree.ElementTree as ET
r = ET.parse("cairn-out/t/sh.xml").getroot()
assert len(r.findall("testsuite")) == 3'
}

test_bad_test_attributes() {
	ws
	write t/BUILD.lua <<'L'
sh_test { name = "x", srcs = { "a.sh", "b.sh" } }
L
	touch t/a.sh t/b.sh
	run 2 cairn test
	has "t/BUILD.lua:1: error: //t:x: sh_test takes exactly one script in srcs, not 2"
	write t/BUILD.lua <<'L'
sh_test { name = "x", srcs = { "a.sh" }, timeout = "forever" }
L
	run 2 cairn test
	has "attribute 'timeout' must be short, moderate, long or a number of seconds"
	run 2 cairn test --test_output=loud
	has "--test_output wants errors, all or summary"
}

test_cached_compile_must_cover_the_headers_it_read() {
	# a result stored under a key that did not cover a header the compile
	# read must never be reused once that header changed
	ws
	write p/BUILD.lua <<'L'
cc_binary { name = "b", srcs = { "a.c" }, deps = { ":l" } }
cc_library { name = "l", hdrs = { "a.h", "b.h" } }
L
	write p/a.c <<'L'
#include <stdio.h>
#include "p/a.h"
int main(void) { printf("%d\n", x + 0); return 0; }
L
	echo 'static int x = 1;' > p/a.h
	echo '#define Y 100' > p/b.h
	run 0 cairn build
	printf '#include "p/b.h"\nstatic int x = Y;\n' > p/a.h
	run 0 cairn build
	eq "$(./cairn-out/p/b)" 100
	echo '#define Y 200' > p/b.h
	run 0 cairn build
	eq "$(./cairn-out/p/b)" 200
	echo 'static int x = 1;' > p/a.h
	run 0 cairn build
	eq "$(./cairn-out/p/b)" 1
	printf '#include "p/b.h"\nstatic int x = Y;\n' > p/a.h
	run 0 cairn build
	eq "$(./cairn-out/p/b)" 200
}

test_test_named_twice_runs_once() {
	ws
	write BUILD.lua <<'L'
sh_test { name = "t", srcs = { "t.sh" } }
L
	echo 'echo ran' > t.sh
	run 0 cairn test //... //:t
	row //:t PASSED
	has "cairn: 1 tests: 1 passed"
}

test_compiler_is_identified_without_a_shell() {
	c_ws
	# a path a shell would have to quote, and a compiler wrapper that
	# counts its --version runs (outside the system directories, so the
	# compiles themselves run unsandboxed)
	mkdir -p "$HOME/it's here"
	cc_path="$HOME/it's here/cc"
	cat > "$cc_path" <<S
#!/bin/sh
[ "\$1" = --version ] && echo run >> "$PWD/versions"
exec gcc "\$@"
S
	chmod +x "$cc_path"
	CC="$cc_path" run 0 cairn build --sandbox=none
	eq "$(wc -l < versions)" 1
	CC="$cc_path" run 0 cairn build --sandbox=none
	eq "$(wc -l < versions)" 1
	# a compiler that fails --version is named
	printf '#!/bin/sh\nexit 3\n' > "$cc_path"
	rm -rf .cairn
	CC="$cc_path" run 2 cairn build --sandbox=none
	has "did not answer --version"
}
