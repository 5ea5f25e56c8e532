# Black-box tests of attacks on the store, the cache and the output tree
# (issue 10): files that are not regular where cairn reads, cache entries
# moved under another key, an action that hard-links a source to its
# output, temp files of a killed cairn, and a full cache disk. Each must
# leave a correct build (or a clear error), never a hang or a wrong result.

# A command that could block for good runs under this: SIGKILL, since a
# process blocked in open() on a FIFO does not stop for SIGTERM.
bounded() { timeout -s KILL 30 "$@"; }

# key_of EVENTS: the key of the first action in an --events file.
key_of() { grep -o '"key":"[0-9a-f]*"' "$1" | head -n 1 | cut -d'"' -f4; }

# ac_log KEY, blob_path FILE: the log of the local store's shard that
# holds an action's result, and the blob holding a file's bytes.
ac_log() { echo "$XDG_CACHE_HOME/cairn/ac/${1:0:2}/log"; }

# forge KEY TO: write the log of TO's shard anew with only KEY's entries
# in it (a copy of KEY's result where TO's was)
forge() {
	python3 - "$(ac_log "$1")" "$1" "$(ac_log "$2")" <<'P'
import struct, sys
src, key, dst = sys.argv[1], bytes.fromhex(sys.argv[2]), sys.argv[3]
b, out, p = open(src, 'rb').read(), b'', 0
while p + 4 <= len(b):
    n = struct.unpack_from('<I', b, p)[0]
    if b[p + 4 + 12:p + 4 + 44] == key:
        out += b[p:p + 4 + n]
    p += 4 + n
assert out, 'no entry for the key'
open(dst, 'wb').write(out)
P
}
blob_path() {
	local h
	h=$(sha256sum < "$1" | cut -c1-64)
	echo "$XDG_CACHE_HOME/cairn/cas/${h:0:2}/$h"
}

# cas_intact: every blob hashes to its name.
cas_intact() {
	local f h
	for f in $(find "$XDG_CACHE_HOME/cairn/cas" -type f); do
		h=$(sha256sum < "$f" | cut -c1-64)
		[ "$h" = "$(basename "$f" .x)" ] || { echo "blob $f holds $h" >&2; return 1; }
	done
}

# A package whose one action copies its source.
copy_pkg() {
	ws
	write p/BUILD.lua <<'L'
genrule { name = "x", srcs = { "in.txt" }, outs = { "x.txt" }, cmd = "cat $< > $@; echo x >> $@" }
L
	echo in > p/in.txt
}

# A FIFO put where the state's journal goes (.cairn/state.log) neither
# hangs the save nor loses it: the append is refused, the state is
# written whole, and the FIFO is gone.
test_fifo_at_the_state_journal_is_replaced() {
	ws
	# enough actions that one changed source is appended, not the whole
	for i in $(seq 40); do
		echo "genrule { name = \"x$i\", srcs = { \"in$i.txt\" }, outs = { \"x$i.txt\" }, cmd = \"cat \$< > \$@\" }"
		echo "$i" > "in$i.txt"
	done > BUILD.lua
	run 0 cairn build
	echo again > in1.txt
	run 0 cairn build
	[ -f .cairn/state.log ] # the journal is in use
	rm .cairn/state.log
	mkfifo .cairn/state.log
	echo once more > in1.txt
	run 0 bounded "$CAIRN" build
	[ ! -p .cairn/state.log ]
	eq "$(cat cairn-out/x1.txt)" "once more"
	run 0 cairn build
	summary 0 40 0
}

test_fifo_source_is_an_error_at_its_line() {
	ws
	write p/BUILD.lua <<'L'
genrule { name = "ok", outs = { "ok.txt" }, cmd = "echo ok > $@" }
genrule { name = "x", srcs = { "fifo.txt" }, outs = { "x.txt" }, cmd = "cat $< > $@" }
L
	mkfifo p/fifo.txt
	run 2 bounded "$CAIRN" build
	has "p/BUILD.lua:2: error: //p:x: source 'p/fifo.txt' is a FIFO, not a regular file"
	# found before anything ran
	[ ! -e cairn-out/p/ok.txt ]
	run 2 bounded "$CAIRN" plan
	has "p/BUILD.lua:2: error: //p:x: source 'p/fifo.txt' is a FIFO"
}

test_source_replaced_by_fifo_after_a_build() {
	copy_pkg
	run 0 cairn build
	# the graph is kept from the last build (a FIFO lists like a file)
	rm p/in.txt
	mkfifo p/in.txt
	run 2 bounded "$CAIRN" build
	has "p/BUILD.lua:1: error: //p:x: source 'p/in.txt' is a FIFO, not a regular file"
	# a symlink to a FIFO is refused where it is hashed, the same way
	mv p/in.txt p/fifo
	ln -s fifo p/in.txt
	run 2 bounded "$CAIRN" build
	has "p/BUILD.lua:1: error: //p:x: source 'p/in.txt' is a FIFO, not a regular file"
	rm p/in.txt
	echo in > p/in.txt
	run 0 cairn build
	eq "$(cat cairn-out/p/x.txt)" "$(printf 'in\nx')"
}

test_cache_blob_replaced_by_fifo_is_a_miss() {
	copy_pkg
	run 0 cairn build
	want=$(cat cairn-out/p/x.txt)
	blob=$(blob_path cairn-out/p/x.txt)
	[ -f "$blob" ]
	cairn clean >/dev/null
	rm "$blob"
	mkfifo "$blob"
	run 0 bounded "$CAIRN" build
	summary 1 0 0
	eq "$(cat cairn-out/p/x.txt)" "$want"
	# the entry was replaced by a good one, which a clean build is served
	[ -f "$blob" ] && [ ! -p "$blob" ]
	cairn clean >/dev/null
	run 0 bounded "$CAIRN" build
	summary 0 1 0
	eq "$(cat cairn-out/p/x.txt)" "$want"
}

test_action_cache_entry_replaced_by_fifo_is_a_miss() {
	copy_pkg
	run 0 cairn build --events ev.json
	want=$(cat cairn-out/p/x.txt)
	log=$(ac_log "$(key_of ev.json)")
	[ -f "$log" ]
	cairn clean >/dev/null
	rm "$log"
	mkfifo "$log"
	run 0 bounded "$CAIRN" build
	summary 1 0 0
	eq "$(cat cairn-out/p/x.txt)" "$want"
	[ -f "$log" ] && [ ! -p "$log" ]
	cairn clean >/dev/null
	run 0 bounded "$CAIRN" build
	summary 0 1 0
	# and a directory in its place is no better than a FIFO
	cairn clean >/dev/null
	rm "$log"
	mkdir "$log"
	run 0 bounded "$CAIRN" build
	summary 1 0 0
	[ -f "$log" ]
}

test_copied_action_cache_entry_is_not_served() {
	# one action at two versions of its source: two keys, one output path
	copy_pkg
	echo one > p/in.txt
	run 0 cairn build --events ev1.json
	echo two > p/in.txt
	run 0 cairn build --events ev2.json
	k1=$(key_of ev1.json) k2=$(key_of ev2.json)
	[ "$k1" != "$k2" ]
	# k2's shard holds only k1's result: found by the key in it, it is
	# k1's, never k2's
	forge "$k1" "$k2"
	cairn clean >/dev/null
	run 0 cairn build
	summary 1 0 0
	eq "$(cat cairn-out/p/x.txt)" "$(printf 'two\nx')"
	# and a true entry is appended
	cairn clean >/dev/null
	run 0 cairn build
	summary 0 1 0
	eq "$(cat cairn-out/p/x.txt)" "$(printf 'two\nx')"
}

test_entry_of_another_workspaces_action_is_not_served() {
	# two actions with the same output path, in two workspaces sharing the
	# cache
	mkdir a b
	(cd a && ws && write p/BUILD.lua <<< 'genrule { name = "x", outs = { "x.txt" }, cmd = "echo A > $@" }')
	(cd b && ws && write p/BUILD.lua <<< 'genrule { name = "x", outs = { "x.txt" }, cmd = "echo B > $@" }')
	(cd a && cairn build --events ../ea.json >/dev/null)
	(cd b && cairn build --events ../eb.json >/dev/null)
	ka=$(key_of ea.json) kb=$(key_of eb.json)
	[ "$ka" != "$kb" ]
	forge "$ka" "$kb"
	cd b
	cairn clean >/dev/null
	run 0 cairn build
	summary 1 0 0
	eq "$(cat cairn-out/p/x.txt)" B
}

test_hard_linked_output_does_not_capture_the_source() {
	ws
	write p/BUILD.lua <<'L'
genrule { name = "l", srcs = { "s.txt" }, outs = { "l.txt" }, cmd = "ln $< $@" }
L
	echo old > p/s.txt
	chmod 644 p/s.txt
	ino=$(stat -c %i p/s.txt)
	run 0 cairn build --sandbox=none
	eq "$(cat cairn-out/p/l.txt)" old
	# the user's file is as it was: its mode, and its inode not a blob
	eq "$(stat -c %a p/s.txt)" 644
	eq "$(stat -c %i p/s.txt)" "$ino"
	eq "$(find "$XDG_CACHE_HOME/cairn" -inum "$ino" | wc -l)" 0
	# an edit in place changes the source, not what the cache holds
	echo new > p/s.txt
	cas_intact
	# the old text again (a new file): served from the cache, and old
	rm p/s.txt
	echo old > p/s.txt
	cairn clean >/dev/null
	run 0 cairn build --sandbox=none
	summary 0 1 0
	eq "$(cat cairn-out/p/l.txt)" old
}

test_leftover_temp_files_are_swept() {
	sh -c 'exit 0' &
	dead=$!
	wait $dead
	ws
	# a declared output that merely looks like a temp file stays
	write p/BUILD.lua <<L
genrule { name = "x", srcs = { "in.txt" }, outs = { "x.txt" }, cmd = "cat \$< > \$@" }
genrule { name = "y", outs = { "y.tmp.$dead.2" }, cmd = "echo y > \$@" }
L
	echo one > p/in.txt
	run 0 cairn build
	sleep 59.25 &
	live=$!
	trap 'kill $live 2>/dev/null || true' EXIT
	# what a cairn killed between writing and renaming leaves
	echo torn > cairn-out/p/x.txt.tmp.$dead.1
	echo torn > cairn-out/p/other.txt.tmp.$dead.7
	echo torn > .cairn/state.tmp.$dead.3
	# and a temp file of a process that is still running
	echo busy > cairn-out/p/x.txt.tmp.$live.1
	echo two > p/in.txt
	run 0 cairn build
	kill $live
	summary 1 1 0
	[ ! -e cairn-out/p/x.txt.tmp.$dead.1 ]
	[ ! -e cairn-out/p/other.txt.tmp.$dead.7 ]
	[ ! -e .cairn/state.tmp.$dead.3 ]
	[ -e cairn-out/p/x.txt.tmp.$live.1 ]
	eq "$(cat cairn-out/p/y.tmp.$dead.2)" y
	eq "$(cat cairn-out/p/x.txt)" two
}

test_full_cache_disk_warns_once() {
	ws
	write p/BUILD.lua <<'L'
genrule { name = "a", outs = { "a.bin" }, cmd = "head -c 400000 /dev/zero > $@" }
genrule { name = "b", outs = { "b.bin" }, cmd = "head -c 400000 /dev/urandom > $@" }
genrule { name = "c", outs = { "c.txt" }, cmd = "echo c > $@" }
L
	cache=$XDG_CACHE_HOME/cairn
	mkdir -p "$cache"
	# the cache on a tmpfs too small for the outputs, in a mount namespace
	# of its own (gone with the build)
	run 0 unshare -m sh -c 'mount -t tmpfs -o size=256k cairn-full "$1" && exec "$2" build' \
		_ "$cache" "$CAIRN"
	summary 3 0 0
	eq "$(printf '%s\n' "$out" | grep -c 'warning: cannot store')" 1
	has "cairn: warning: cannot store results in the cache at $cache: No space left on device"
	eq "$(wc -c < cairn-out/p/a.bin)" 400000
	eq "$(wc -c < cairn-out/p/b.bin)" 400000
	eq "$(cat cairn-out/p/c.txt)" c
}
