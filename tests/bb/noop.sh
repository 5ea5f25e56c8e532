# Black-box tests of the no-op fast path (.cairn/noop): it is taken only
# when nothing it covers changed, and every kind of change falls back to
# the full check.

# //p:all globs p/*.txt; //q:q copies it.
two_pkgs() {
	ws
	write p/BUILD.lua <<'L'
genrule { name = "all", srcs = glob { "*.txt" }, outs = { "all.out" }, cmd = "cat $(SRCS) > $@" }
L
	write q/BUILD.lua <<'L'
genrule { name = "q", srcs = { "//p:all" }, outs = { "q.out" }, cmd = "cp $< $@" }
L
	echo 1 > p/a.txt
}

# settle [ARGS]: build until a no-op record exists (files written in the
# last 20 ms are racy and keep it from being written).
settle() {
	sleep 0.05
	run 0 cairn build "$@"
	[ -f .cairn/noop ] || { echo "no .cairn/noop after a settled build" >&2; return 1; }
}

test_noop_record_is_used_without_graph_or_state() {
	two_pkgs
	run 0 cairn build
	summary 2 0 0
	settle
	summary 0 2 0
	# the fast path reads neither: without them it still answers, and
	# writes nothing
	rm .cairn/graph
	run 0 cairn build
	summary 0 2 0
	[ ! -e .cairn/graph ]
}

test_every_change_falls_back() {
	two_pkgs
	# not racy: the snapshot keeps p/'s stat data, so while p/ is
	# unchanged its listing is not read again
	sleep 0.05
	run 0 cairn build
	settle
	# a source's content
	echo 2 > p/a.txt
	run 0 cairn build
	summary 2 0 0
	eq "$(cat cairn-out/q/q.out)" "2"
	# a new file in a globbed directory
	settle
	echo 3 > p/b.txt
	run 0 cairn build
	summary 2 0 0
	eq "$(cat cairn-out/q/q.out)" "$(printf '2\n3')"
	# a deleted output
	settle
	rm -f cairn-out/q/q.out
	run 0 cairn build
	summary 0 2 0
	[ -f cairn-out/q/q.out ]
	# an output written in place (only root can write a read-only file)
	if [ "$(id -u)" = 0 ]; then
		settle
		echo junk > cairn-out/p/all.out
		run 0 cairn build
		eq "$(cat cairn-out/p/all.out)" "$(printf '2\n3')"
	fi
	# a build file
	settle
	sed -i 's/cp \$< \$@/tac $< > $@/' q/BUILD.lua
	run 0 cairn build
	summary 1 1 0
	eq "$(cat cairn-out/q/q.out)" "$(printf '3\n2')"
	# a new package under //...
	settle
	write r/BUILD.lua <<'L'
genrule { name = "r", srcs = { "//q:q" }, outs = { "r.out" }, cmd = "cp $< $@" }
L
	run 0 cairn build
	summary 1 2 0
	[ -f cairn-out/r/r.out ]
	# a deleted package
	settle
	rm -r r
	run 0 cairn build
	summary 0 2 0
	[ ! -e cairn-out/r/r.out ]
}

test_record_is_per_request_and_flags() {
	two_pkgs
	run 0 cairn build //p:all
	settle //p:all
	summary 0 1 0
	# another pattern is another request
	run 0 cairn build //...
	summary 1 1 0
	settle //...
	# another sandbox mode gives other keys, so the actions run again
	run 0 cairn build --sandbox=none
	summary 2 0 0
	eq "$(cat cairn-out/q/q.out)" "1"
	# a test run is not a build: its actions run
	write t/BUILD.lua <<'L'
sh_test { name = "t", srcs = { "t.sh" } }
L
	printf '#!/bin/sh\nexit 0\n' > t/t.sh
	chmod +x t/t.sh
	settle
	run 0 cairn test //t:t
	has "PASSED"
}

test_racy_files_are_never_recorded() {
	two_pkgs
	# a file modified "now" could change again in the same timestamp tick
	# without its stat data changing: a source with a future mtime stays
	# racy, so no record is written however often it is built
	touch -d '+1 hour' p/a.txt
	run 0 cairn build
	sleep 0.05
	run 0 cairn build
	summary 0 2 0
	[ ! -e .cairn/noop ]
}

# //q:q copies //p:all, so both outputs have the same bytes: storing the
# second must leave the first's inode (and its recorded stat data) alone,
# so the no-op after a build that changed something takes the record.
test_noop_after_a_change_takes_the_record() {
	two_pkgs
	run 0 cairn build
	settle
	local i
	for i in 2 3; do
		echo "$i" > p/a.txt
		sleep 0.05
		run 0 cairn build
		summary 2 0 0
		rm .cairn/graph
		run 0 cairn build
		summary 0 2 0
		[ ! -e .cairn/graph ]
	done
}

# A build that changed only some files' content patches their stat data
# into the record in place: the same bytes a whole rewrite gives.
test_record_is_patched_in_place() {
	two_pkgs
	run 0 cairn build
	settle
	local ino
	ino=$(stat -c %i .cairn/noop)
	echo 2 > p/a.txt
	sleep 0.05
	run 0 cairn build
	summary 2 0 0
	eq "$(stat -c %i .cairn/noop)" "$ino"
	cp .cairn/noop noop.patched
	# the same record written whole by a build that finds nothing to do,
	# but for the state's stat data (that build may save the state)
	rm .cairn/noop
	run 0 cairn build
	summary 0 2 0
	python3 - <<'P'
import struct
def body(name):
    b = open(name, 'rb').read()
    klen = struct.unpack_from('<I', b, 12)[0]
    return b[16 + klen + 2 * 36:-8]
assert body('noop.patched') == body('.cairn/noop'), 'patched record differs'
P
	# and it is taken: no graph needed
	rm .cairn/graph
	run 0 cairn build
	summary 0 2 0
	[ ! -e .cairn/graph ]
}

# A patch cut short before its trailer (cairn-hooks: the trailer is never
# written) is a record that does not check, so it is not taken.
test_patch_cut_short_is_not_taken() {
	two_pkgs
	run 0 cairn build
	settle
	echo 2 > p/a.txt
	sleep 0.05
	CAIRN_HOOK_NOOP_PATCH_TORN=1 run 0 cairn_hooks build
	summary 2 0 0
	[ -e .cairn/noop ]
	rm .cairn/graph
	run 0 cairn build
	summary 0 2 0
	[ -e .cairn/graph ]
	eq "$(cat cairn-out/q/q.out)" "2"
}

test_damaged_record_falls_back() {
	two_pkgs
	run 0 cairn build
	settle
	cp .cairn/noop noop.good
	# cut short, flipped byte, garbage, empty: each a plain miss
	head -c 100 noop.good > .cairn/noop
	echo 5 > p/a.txt
	run 0 cairn build
	summary 2 0 0
	settle
	cp .cairn/noop noop.good
	python3 - <<'P'
b = bytearray(open('noop.good', 'rb').read())
b[len(b) // 2] ^= 0x40
open('.cairn/noop', 'wb').write(bytes(b))
P
	echo 6 > p/a.txt
	run 0 cairn build
	summary 2 0 0
	eq "$(cat cairn-out/q/q.out)" "6"
	head -c 4096 /dev/urandom > .cairn/noop
	run 0 cairn build
	summary 0 2 0
	: > .cairn/noop
	run 0 cairn build
	summary 0 2 0
}

test_killed_build_leaves_no_false_record() {
	ws
	write p/BUILD.lua <<'L'
genrule { name = "slow", srcs = { "in.txt" }, outs = { "slow.out" }, cmd = "sleep 0.3; cat $< > $@" }
L
	echo 1 > p/in.txt
	run 0 cairn build
	settle
	echo 2 > p/in.txt
	"$CAIRN" build > /dev/null 2>&1 &
	local pid=$!
	sleep 0.15
	kill -9 "$pid"
	wait "$pid" || true
	# whatever record is left, it does not match what is on disk now
	run 0 cairn build
	summary 1 0 0
	eq "$(cat cairn-out/p/slow.out)" "2"
}

test_known_files_decide_only_what_changed() {
	ws
	write p/BUILD.lua <<'L'
genrule { name = "x", srcs = { "in1.txt" }, outs = { "x.out" }, cmd = "tr a-z A-Z < $< > $@" }
genrule { name = "y", srcs = { ":x", "in2.txt" }, outs = { "y.out" }, cmd = "cat $(SRCS) > $@" }
genrule { name = "n", srcs = { "in3.txt" }, outs = { "n.out" }, cmd = "wc -c < $< > $@" }
genrule { name = "z", srcs = { ":n" }, outs = { "z.out" }, cmd = "cat $< > $@; echo z >> $@" }
L
	echo abc > p/in1.txt
	echo def > p/in2.txt
	echo ghi > p/in3.txt
	run 0 cairn build
	summary 4 0 0
	settle
	# y reads x's output digest from the state: x itself is not looked at
	echo xyz > p/in2.txt
	run 0 cairn build --explain
	has "//p:y Genrule: input changed: p/in2.txt"
	summary 1 3 0
	eq "$(cat cairn-out/p/y.out)" "$(printf 'ABC\nxyz')"
	# n runs, its output is the same (same length): z stays up to date
	settle
	echo jkl > p/in3.txt
	run 0 cairn build
	summary 1 3 0
	eq "$(cat cairn-out/p/z.out)" "$(printf '4\nz')"
	# the same in a clean checkout, from the cache only
	rm -rf cairn-out .cairn
	run 0 cairn build
	summary 0 4 0
	eq "$(cat cairn-out/p/y.out)" "$(printf 'ABC\nxyz')"
}

test_bad_input_keeps_the_record() {
	two_pkgs
	run 0 cairn build
	settle
	cp .cairn/noop noop.before
	cp q/BUILD.lua q.good
	echo 'genrule { name = "q", outs = 1 }' > q/BUILD.lua
	run 2 cairn build
	cmp .cairn/noop noop.before
	# the record is still there, and still does not hide the change
	cp q.good q/BUILD.lua
	echo 7 > p/a.txt
	run 0 cairn build
	summary 2 0 0
	eq "$(cat cairn-out/q/q.out)" "7"
}

test_undeclared_header_change_rebuilds() {
	ws
	write p/BUILD.lua <<'L'
cc_binary { name = "m", srcs = { "main.c", "k.c" } }
L
	printf '#include <stdio.h>\n#include "undecl.h"\nint k(void);\nint main(void) { printf("%%d\\n", VAL + k()); return 0; }\n' > p/main.c
	echo 'int k(void) { return 10; }' > p/k.c
	echo '#define VAL 1' > p/undecl.h
	# outside the sandbox an undeclared header is a warning, and the key
	# covers it from the depfile on
	run 0 cairn build --sandbox=none
	has "undecl.h"
	settle --sandbox=none
	eq "$(cairn-out/p/m)" 11
	# the header alone: the record holds it, so the build looks closer
	echo '#define VAL 2' > p/undecl.h
	run 0 cairn build --sandbox=none
	eq "$(cairn-out/p/m)" 12
	# the header and a declared source at once: no action is taken as up
	# to date on its declared files alone
	settle --sandbox=none
	echo '#define VAL 3' > p/undecl.h
	echo 'int k(void) { return 20; }' > p/k.c
	run 0 cairn build --sandbox=none
	eq "$(cairn-out/p/m)" 23
}

test_glob_sees_a_symlink_change_type() {
	ws
	# the link's target is outside the workspace: no walk of cairn's sees it
	local there="$PWD/../outside"
	mkdir -p "$there/d"
	write p/BUILD.lua <<'L'
genrule { name = "all", srcs = glob { "*", exclude = { "BUILD.lua" } }, outs = { "all.out" }, cmd = "echo $(SRCS) > $@" }
L
	echo a > p/a.txt
	ln -s "$there/d" p/link
	# not racy: the snapshot keeps p/'s stat data
	sleep 0.05
	run 0 cairn build
	settle
	eq "$(cat cairn-out/p/all.out)" "p/a.txt"
	# the link now points at a file: p/ itself did not change
	rm -r "$there/d"
	echo file > "$there/d"
	run 0 cairn build
	eq "$(cat cairn-out/p/all.out)" "p/a.txt p/link"
}

test_out_of_descriptors_is_not_missing() {
	ws
	local d i
	for d in $(seq 0 11); do
		mkdir -p p$d
		for i in $(seq 0 19); do echo "$d $i" > p$d/f$i.txt; done
		echo 'genrule { name = "all", srcs = glob { "*.txt" }, outs = { "all.out" }, cmd = "cat $(SRCS) > $@" }' > p$d/BUILD.lua
	done
	run 0 cairn build --sandbox=none
	settle --sandbox=none
	# the check opens each directory of 16 files or more; with few
	# descriptors left, opens fail: those files are stat'ed by path, not
	# taken for missing
	echo more >> p3/f0.txt
	run 0 bash -c "ulimit -n 12 && exec \"$CAIRN\" build --sandbox=none"
	summary 1 11 0
	eq "$(head -c 6 cairn-out/p3/all.out)" "3 0
mo"
}
