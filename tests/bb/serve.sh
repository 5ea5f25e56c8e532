# Black-box tests of `cairn serve` (issue 15): cairn's own client and
# Bazel 4.2.3 build against it; --store serves a developer's cache as it
# is; a result whose blobs are gone is a miss; bad input (garbage, a
# truncated frame, unknown methods, malformed and lying messages, 1000
# streams, a client at one byte a second) gets a status or loses its
# connection while everyone else is served; kill -9 mid-upload leaves no
# blob whose bytes do not match its name. Each test starts its own server
# on a free loopback port (tests/peers/serve.sh); the peers' exit trap
# stops it.

source "$TESTS/peers/serve.sh"
source "$TESTS/peers/remote_checks.sh"

# big_rules: two_rules, an output of 3 MiB (over the client's 1 MiB
# ByteStream threshold) and one made from it, all in a/.
big_rules() {
	two_rules
	cat >> a/BUILD.lua <<'L'
genrule { name = "big", srcs = { "in.txt" }, outs = { "big.bin" }, cmd = "yes \"$$(cat $<) abcdefghijklmnopqrstuvwxyz0123456789\" | head -n 100000 | cat -n | head -c 3145728 > $@" }
genrule { name = "sum", srcs = { ":big" }, outs = { "sum.txt" }, cmd = "wc -c < $< > $@; cksum < $< >> $@" }
L
}

# store_sound DIR: every blob under DIR/cas hashes to its name.
store_sound() {
	local f n=0 name
	while IFS= read -r -d '' f; do
		name=${f##*/}
		eq "$(sha256sum < "$f" | cut -d' ' -f1)" "${name%.x}"
		n=$((n + 1))
	done < <(find "$1/cas" -type f -print0 2>/dev/null)
	echo "$n served blobs, all sound"
}

# served_calls METHOD: how many calls of METHOD (Read, Write, ...) the
# server's log has, with status OK.
served_calls() { grep -c "/$1 OK " "$SERVE_LOG" || true; }

# still_serves: a new connection gets Capabilities answered.
still_serves() { grpc_raw alive >/dev/null || { echo "the server stopped serving" >&2; tail -n 20 "$SERVE_LOG" >&2; return 1; }; }

test_cairn_client_uploads_and_gets_everything_back() {
	serve_start
	big_rules
	run 0 cairn build --remote_cache="$SERVE_URL"
	remote_summary 4 0 0 0
	warnings 0
	two_rules_right
	eq "$(stat -c %s cairn-out/a/big.bin)" 3145728
	# the 3 MiB blob went up through ByteStream, the rest in a batch
	[ "$(served_calls Write)" -ge 1 ]
	store_sound "$SERVE_STORE"
	[ -f "$SERVE_STORE/cas/$(sha256sum < cairn-out/a/big.bin | cut -c1-2)/$(sha256sum < cairn-out/a/big.bin | cut -d' ' -f1)" ]
	local top=$PWD
	# a second checkout with an empty cache: everything from the server
	fresh two
	run 0 cairn build --remote_cache="$SERVE_URL" --events ev.json
	remote_summary 0 4 4 0
	warnings 0
	local f
	for f in gen.txt tool.sh big.bin sum.txt; do cmp "cairn-out/a/$f" "$top/cairn-out/a/$f"; done
	two_rules_right
	[ "$(served_calls Read)" -ge 1 ]
	cas_sound
	# a third with --remote_download=toplevel: only what was asked for
	cd "$top"
	fresh three
	run 0 cairn build --remote_cache="$SERVE_URL" --remote_download=toplevel //a:sum //a:tool
	summary 0 4 0 4
	cmp cairn-out/a/sum.txt "$top/cairn-out/a/sum.txt"
	cmp cairn-out/a/tool.sh "$top/cairn-out/a/tool.sh"
	test -x cairn-out/a/tool.sh
	[ ! -e cairn-out/a/big.bin ]
	# asked for, the big intermediate comes down whole
	run 0 cairn build --remote_cache="$SERVE_URL" --remote_download=toplevel //a:big
	cmp cairn-out/a/big.bin "$top/cairn-out/a/big.bin"
	store_sound "$SERVE_STORE"
}

test_store_serves_a_local_cache_as_it_is() {
	big_rules
	# a plain local build: nothing remote
	run 0 cairn build
	summary 4 0 0
	local top=$PWD cache=$XDG_CACHE_HOME/cairn
	[ -d "$cache/cas" ]
	serve_start --store "$cache"
	fresh two
	run 0 cairn build --remote_cache="$SERVE_URL" --remote_upload_local_results=false
	remote_summary 0 4 4 0
	warnings 0
	for f in gen.txt tool.sh big.bin sum.txt; do cmp "cairn-out/a/$f" "$top/cairn-out/a/$f"; done
	two_rules_right
	# nothing was uploaded to get there
	eq "$(served_calls Write)" 0
	eq "$(served_calls BatchUpdateBlobs)" 0
	eq "$(served_calls UpdateActionResult)" 0
	store_sound "$cache"
	cas_sound
}

# Bazel 4.2.3 as Debian ships it, offline (the .bazelrc bench/gen.py
# writes), in batch mode so that no Bazel server outlives the test.
bazel_ws() {
	peers_need bazel || return 1
	mkdir -p "$1/a"
	: > "$1/WORKSPACE"
	cat > "$1/.bazelrc" <<'R'
build --experimental_repository_disable_download
build --repository_cache=
build --nosandbox_debug
build --noshow_progress
R
	echo hello > "$1/a/in.txt"
	cat > "$1/a/BUILD" <<'B'
genrule(name = "gen", srcs = ["in.txt"], outs = ["gen.txt"], cmd = "cat $< > $@; echo gen >> $@")
genrule(name = "tool", srcs = [":gen"], outs = ["tool.sh"], cmd = "(echo '#!/bin/sh'; sed 's/^/echo /' $<) > $@; chmod +x $@", executable = True)
B
}

# bz ARG...: bazel in the cwd, its output root under HOME.
bz() { bazel --batch "--output_user_root=$HOME/bazel-root" "$@"; }

# bazel_hits N: Bazel's process summary in $out says N remote cache hits.
bazel_hits() {
	local line
	line=$(printf '%s\n' "$out" | grep -E '^INFO: [0-9]+ processes?: ' | tail -n 1)
	if [ "$1" = 0 ]; then
		case $line in *"remote cache hit"*) ;; *) return 0 ;; esac
	else
		case $line in *": $1 remote cache hit"* | *", $1 remote cache hit"*) return 0 ;; esac
	fi
	printf 'wanted %s remote cache hits, got: %s\n' "$1" "$line" >&2
	return 1
}

test_bazel_builds_against_cairn_serve() {
	bazel_ws bz
	serve_start
	cd bz
	run 0 bz build --remote_cache="$SERVE_URL" //a:all
	bazel_hits 0
	local gen tool
	gen=$(sha256sum < bazel-bin/a/gen.txt)
	tool=$(sha256sum < bazel-bin/a/tool.sh)
	eq "$(cat bazel-bin/a/gen.txt)" "$(printf 'hello\ngen')"
	# what Bazel uploaded is whole, under its names
	[ "$(served_calls UpdateActionResult)" -eq 2 ]
	store_sound "$SERVE_STORE"
	# after clean, from the server: both genrules are remote cache hits
	run 0 bz clean
	run 0 bz build --remote_cache="$SERVE_URL" //a:all
	bazel_hits 2
	eq "$(sha256sum < bazel-bin/a/gen.txt)" "$gen"
	eq "$(sha256sum < bazel-bin/a/tool.sh)" "$tool"
	test -x bazel-bin/a/tool.sh
	[ "$(served_calls GetActionResult)" -ge 2 ]
	# and cairn's client reads what Bazel wrote (the same server, other keys)
	still_serves
}

# An action with an empty output is a remote cache hit, for Bazel and for
# cairn: neither client uploads the empty blob (REAPI: it is everywhere),
# and the server takes it as always there.
test_empty_output_is_a_hit_for_bazel() {
	bazel_ws bz
	echo 'genrule(name = "empty", outs = ["empty.txt"], cmd = "touch $@")' >> bz/a/BUILD
	serve_start
	cd bz
	run 0 bz build --remote_cache="$SERVE_URL" //a:empty
	run 0 bz clean
	run 0 bz build --remote_cache="$SERVE_URL" //a:empty
	grep 'GetActionResult' "$SERVE_LOG" >&2
	bazel_hits 1
}

test_empty_output_is_a_hit_for_cairn() {
	serve_start
	ws
	mkdir -p a
	write a/BUILD.lua <<'L'
genrule { name = "empty", outs = { "empty.txt" }, cmd = "touch $@" }
L
	run 0 cairn build --remote_cache="$SERVE_URL"
	remote_summary 1 0 0 0
	fresh two
	run 0 cairn build --remote_cache="$SERVE_URL"
	grep 'GetActionResult' "$SERVE_LOG" >&2
	remote_summary 0 1 1 0
}

# A hit keeps the action's stderr: cairn's store keeps one log, so the
# server appends Bazel's stderr to its stdout, and the hit replays both.
test_bazel_hit_replays_stderr() {
	bazel_ws bz
	echo 'genrule(name = "warn", outs = ["warn.txt"], cmd = "echo to-stderr-xyz >&2; echo to-stdout-xyz; echo w > $@")' >> bz/a/BUILD
	serve_start
	cd bz
	run 0 bz build --remote_cache="$SERVE_URL" //a:warn
	has to-stderr-xyz
	run 0 bz clean
	run 0 bz build --remote_cache="$SERVE_URL" //a:warn
	bazel_hits 1
	has to-stdout-xyz
	has to-stderr-xyz
}

test_result_whose_blob_was_evicted_is_a_miss() {
	serve_start
	two_rules
	run 0 cairn build --remote_cache="$SERVE_URL"
	remote_summary 2 0 0 0
	local top=$PWD h
	# gen.txt's blob goes from the served store by hand
	h=$(sha256sum < cairn-out/a/gen.txt | cut -d' ' -f1)
	rm -f "$SERVE_STORE/cas/${h:0:2}/$h" "$SERVE_STORE/cas/${h:0:2}/$h.x"
	[ -z "$(find "$SERVE_STORE/cas" -name "$h*")" ]
	fresh two
	run 0 cairn build --remote_cache="$SERVE_URL" --events ev.json
	warnings 0
	# gen ran again; tool, whose blobs are all there, came from the server
	remote_summary 1 1 1 0
	eq "$(where ev.json)" "$(printf '//a:gen local\n//a:tool remote-cache')"
	two_rules_right
	has_line=$(grep -c 'GetActionResult NOT_FOUND: no result (its blobs are gone)' "$SERVE_LOG")
	[ "$has_line" -ge 1 ]
	# and its upload put the blob back
	[ -n "$(find "$SERVE_STORE/cas" -name "$h*")" ]
	store_sound "$SERVE_STORE"
	cas_sound
}

test_garbage_and_truncated_frames_drop_only_that_connection() {
	serve_start
	local r
	r=$(grpc_raw garbage)
	eq "$(python3 -c 'import json,sys; print(json.load(sys.stdin)["closed"])' <<<"$r")" True
	still_serves
	grpc_raw truncated >/dev/null
	still_serves
	# a preface alone, then silence: the others are served meanwhile
	exec 7<>"/dev/tcp/127.0.0.1/$SERVE_PORT"
	printf 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n' >&7
	still_serves
	exec 7>&-
	still_serves
	kill -0 "$SERVE_PID"
}

test_bad_calls_get_their_status() {
	serve_start
	grpc_py '
def st(r, code, what):
    assert r["status"] == code, (what, r)

# an unknown method, on a connection that then serves a good call
c = Conn(PORT)
st(c.call("/no.Such/Method", [b""]), 12, "unknown method")
st(c.call(CAPS, [b""]), 0, "capabilities after it")
c.close()
# a malformed protobuf (a length that runs past the end)
st(unary(PORT, FIND, b"\x12\x50\x0a"), 3, "malformed FindMissingBlobs")
st(unary(PORT, GETAR, b"\xff\xff\xff\xff"), 3, "malformed GetActionResult")
# a compressed message, an oversized one, one cut short by END_STREAM
c = Conn(PORT)
sid = c.open(FIND)
c.send_data(sid, b"\x01\x00\x00\x00\x02\x0a\x00", end=True)
c.wait(sid)
st(c.result(sid), 12, "compressed")
sid = c.open(FIND)
c.send_data(sid, b"\x00" + struct.pack(">I", 9 << 20) + b"\x00" * 100, end=True)
c.wait(sid)
st(c.result(sid), 8, "9 MiB message")
sid = c.open(FIND)
c.send_data(sid, b"\x00\x00\x00\x00\x64" + b"\x0a" * 10, end=True)
c.wait(sid)
st(c.result(sid), 3, "truncated message")
st(c.call(CAPS, [b""]), 0, "capabilities after them")
c.close()
# two messages to a unary method
st(Conn(PORT).call(FIND, [b"", b""]), 3, "two messages")
# a digest that is not SHA-256
st(unary(PORT, FIND, f_bytes(2, digest("abc", 3))), 3, "short hash")
# BatchUpdateBlobs: a digest that does not name its bytes, per blob
good, bad, short = b"good bytes", b"bad bytes", b"short"
req = (f_bytes(2, f_bytes(1, digest_of(good)) + f_bytes(2, good)) +
       f_bytes(2, f_bytes(1, digest_of(b"other bytes")) + f_bytes(2, bad)) +
       f_bytes(2, f_bytes(1, digest(hashlib.sha256(short).hexdigest(), 99)) + f_bytes(2, short)))
r = unary(PORT, BUPDATE, req)
st(r, 0, "BatchUpdateBlobs")
codes = [decode(decode(x)[2][0]).get(1, [0])[0] for x in decode(bytes.fromhex(r["messages"][0]))[1]]
assert codes == [0, 3, 3], codes
# only the good one is there
r = unary(PORT, FIND, f_bytes(2, digest_of(good)) + f_bytes(2, digest_of(bad)) + f_bytes(2, digest_of(short)))
st(r, 0, "FindMissingBlobs")
missing = [decode(x)[1][0].decode() for x in decode(bytes.fromhex(r["messages"][0]))[2]]
assert missing == [hashlib.sha256(bad).hexdigest(), hashlib.sha256(short).hexdigest()], missing
# BatchReadBlobs: NOT_FOUND per missing blob, the data of the others
r = unary(PORT, BREAD, f_bytes(2, digest_of(good)) + f_bytes(2, digest_of(bad)))
st(r, 0, "BatchReadBlobs")
resp = [decode(x) for x in decode(bytes.fromhex(r["messages"][0]))[1]]
assert resp[0][2] == [good] and decode(resp[0][3][0]).get(1, [0])[0] == 0, resp
assert decode(resp[1][3][0])[1] == [5], resp
# ByteStream Read: offset and limit, out of range, missing
r = unary(PORT, READ, f_bytes(1, "blobs/%s/%d" % (hashlib.sha256(good).hexdigest(), len(good))) + f_varint(2, 2) + f_varint(3, 3))
st(r, 0, "Read")
assert decode(bytes.fromhex(r["messages"][0]))[10] == [good[2:5]], r
st(unary(PORT, READ, f_bytes(1, "inst/blobs/%s/%d" % (hashlib.sha256(good).hexdigest(), len(good))) + f_varint(2, 11)), 11, "offset past the end")
st(unary(PORT, READ, f_bytes(1, "blobs/%s/%d" % (hashlib.sha256(bad).hexdigest(), len(bad)))), 5, "missing blob")
st(unary(PORT, READ, f_bytes(1, "blobs/nonsense")), 3, "bad resource")
# GetActionResult of an unknown action
st(unary(PORT, GETAR, f_bytes(2, digest_of(b"no action"))), 5, "no result")
'
	grep -c ' OK ' "$SERVE_LOG" >&2
	still_serves
}

test_bytestream_write_that_lies_is_refused() {
	serve_start
	head -c 1500000 /dev/urandom > blob.bin
	local real claimed out
	real=$(sha256sum < blob.bin | cut -d' ' -f1)
	out=$(grpc_raw upload blob.bin --bad-hash)
	claimed=$(python3 -c 'import json,sys; r = json.load(sys.stdin); assert r["status"] == 3, r; print(r["hash"])' <<<"$out")
	[ "$claimed" != "$real" ]
	[ -z "$(find "$SERVE_STORE/cas" -name "$claimed*" -o -name "$real*")" ]
	# nothing left of it in tmp/ either
	eq "$(find "$SERVE_STORE/tmp" -type f | wc -l)" 0
	# more bytes than the name says: refused
	out=$(grpc_raw upload blob.bin --resource "uploads/u-1/blobs/$real/1000")
	python3 -c 'import json,sys; r = json.load(sys.stdin); assert r["status"] == 3, r' <<<"$out"
	[ -z "$(find "$SERVE_STORE/cas" -name "$real*")" ]
	# the honest one goes in, and reads back
	out=$(grpc_raw upload blob.bin --chunk 100000)
	python3 -c 'import json,sys; r = json.load(sys.stdin); assert r["status"] == 0 and r["committed"] == 1500000, r' <<<"$out"
	out=$(grpc_raw read "$real" 1500000)
	python3 -c 'import json,sys; r = json.load(sys.stdin); assert r["status"] == 0 and r["sha256"] == sys.argv[1], r' "$real" <<<"$out"
	store_sound "$SERVE_STORE"
	still_serves
}

test_bytestream_write_resumes_where_it_broke() {
	serve_start
	head -c 6000000 /dev/urandom > blob.bin
	local h res=uploads/0d9f3b52-1111-4222-8333-444455556666/blobs
	h=$(sha256sum < blob.bin | cut -d' ' -f1)
	res=$res/$h/6000000
	# the connection goes after 2 MB (whole 500 kB messages)
	grpc_raw upload blob.bin --resource "$res" --chunk 500000 --stop-after 2000000
	# QueryWriteStatus: where it stands (the server may still be reading)
	local i out committed=0
	for i in $(seq 50); do
		out=$(grpc_raw query "$res")
		committed=$(python3 -c 'import json,sys; r = json.load(sys.stdin); assert r["status"] == 0, r; assert not r["complete"], r; print(r["committed"])' <<<"$out")
		[ "$committed" = 2000000 ] && break
		sleep 0.1
	done
	eq "$committed" 2000000
	# a Write from elsewhere than where it stands is refused
	out=$(grpc_raw upload blob.bin --resource "$res" --chunk 500000 --offset 1000000)
	python3 -c 'import json,sys; r = json.load(sys.stdin); assert r["status"] == 11, r' <<<"$out"
	# from the committed offset, it completes
	out=$(grpc_raw upload blob.bin --resource "$res" --chunk 500000 --offset 2000000)
	python3 -c 'import json,sys; r = json.load(sys.stdin); assert r["status"] == 0 and r["committed"] == 6000000, r' <<<"$out"
	out=$(grpc_raw query "$res")
	python3 -c 'import json,sys; r = json.load(sys.stdin); assert r["status"] == 0 and r["complete"] and r["committed"] == 6000000, r' <<<"$out"
	out=$(grpc_raw read "$h" 6000000)
	python3 -c 'import json,sys; r = json.load(sys.stdin); assert r["status"] == 0 and r["sha256"] == sys.argv[1], r' "$h" <<<"$out"
	# an upload nobody started: NOT_FOUND
	out=$(grpc_raw query "uploads/nobody/blobs/$(sha256sum <<<nobody | cut -d' ' -f1)/7")
	python3 -c 'import json,sys; r = json.load(sys.stdin); assert r["status"] == 5, r' <<<"$out"
	store_sound "$SERVE_STORE"
}

test_a_thousand_streams_are_refused_beyond_the_limit() {
	serve_start
	local out
	out=$(grpc_raw streams 1000)
	echo "$out" >&2
	# past its 128 streams the server refuses (RST_STREAM, or GOAWAY and
	# the connection closed); another client was served meanwhile
	python3 -c '
import json, sys
r = json.load(sys.stdin)
assert r["other_ok"], r
assert r["refused"] > 0 or r["goaway"] or r["eof"], r
if r["goaway"]:
    assert r["goaway"]["last"] <= 2 * 128 + 1, r' <<<"$out"
	# 100 open at once are within the limit: the first still completes
	out=$(grpc_raw streams 100)
	python3 -c '
import json, sys
r = json.load(sys.stdin)
assert r["other_ok"] and not r["goaway"] and not r["eof"] and r["first_call"] == 0, r' <<<"$out"
	still_serves
}

test_one_byte_a_second_does_not_hold_up_the_others() {
	serve_start
	local out
	out=$(grpc_raw slow 5)
	echo "$out" >&2
	python3 -c '
import json, sys
r = json.load(sys.stdin)
# the slow call completes (within the limits), the one blob it asked about missing
assert r["slow_status"] == 0 and r["slow_missing"] == 1 and r["bytes_slowly"] >= 4, r
# others were served all along, promptly
assert r["other_calls"] >= 5 and r["other_failures"] == 0 and r["other_max_s"] < 1, r' <<<"$out"
	still_serves
}

test_kill_9_mid_upload_leaves_a_sound_store() {
	serve_start
	local store=$SERVE_STORE
	head -c 40000000 /dev/urandom > blob.bin
	# some blobs in first, so that there is something to damage
	two_rules
	run 0 cairn build --remote_cache="$SERVE_URL"
	# an upload that stops half way and hangs, then kill -9
	python3 "$TESTS/peers/grpc_raw.py" "$SERVE_PORT" upload blob.bin --stop-after 20000000 --hang > up.json &
	local up=$! i
	for i in $(seq 100); do [ -s up.json ] && break; sleep 0.1; done
	[ -s up.json ]
	serve_stop KILL
	kill "$up" 2>/dev/null || true
	wait "$up" 2>/dev/null || true
	store_sound "$store"
	# whole uploads, the server killed at a random moment during each
	local k
	for k in 1 2 3; do
		serve_start --store "$store"
		head -c $((20000000 + k)) /dev/urandom > blob.bin
		python3 "$TESTS/peers/grpc_raw.py" "$SERVE_PORT" upload blob.bin --chunk 1048576 > up.json 2>&1 &
		up=$!
		sleep "0.$((RANDOM % 4))$((RANDOM % 10))"
		serve_stop KILL
		wait "$up" 2>/dev/null || true
		store_sound "$store"
	done
	# a restarted server serves the store: a fresh checkout gets its hits
	serve_start --store "$store"
	still_serves
	fresh two
	run 0 cairn build --remote_cache="$SERVE_URL"
	remote_summary 0 2 2 0
	two_rules_right
	# and a whole upload goes through
	cd ..
	local out h
	h=$(sha256sum < blob.bin | cut -d' ' -f1)
	out=$(grpc_raw upload blob.bin)
	python3 -c 'import json,sys; r = json.load(sys.stdin); assert r["status"] == 0, r' <<<"$out"
	out=$(grpc_raw read "$h" "$(stat -c %s blob.bin)")
	python3 -c 'import json,sys; r = json.load(sys.stdin); assert r["status"] == 0 and r["sha256"] == sys.argv[1], r' "$h" <<<"$out"
	store_sound "$store"
}

# A result with output_directories (or symlinks) is refused, never stored
# in part: cairn's store keeps output files, and a hit that lacked the
# directory would be a wrong hit.
test_result_with_a_directory_is_not_cut_down() {
	serve_start
	grpc_py '
blob = b"dir file bytes\n"
r = unary(PORT, BUPDATE, f_bytes(2, f_bytes(1, digest_of(blob)) + f_bytes(2, blob)))
assert r["status"] == 0, r
root = f_bytes(2, f_bytes(1, "f.txt") + f_bytes(2, digest_of(blob)))
tree_msg = f_bytes(1, root)
r = unary(PORT, BUPDATE, f_bytes(2, f_bytes(1, digest_of(tree_msg)) + f_bytes(2, tree_msg)))
assert r["status"] == 0, r
ar = (f_bytes(2, f_bytes(1, "out/plain.txt") + f_bytes(2, digest_of(blob))) +
      f_bytes(3, f_bytes(1, "out/dir") + f_bytes(3, digest_of(tree_msg))))
key = digest_of(b"an action with a directory output")
up = unary(PORT, UPDAR, f_bytes(2, key) + f_bytes(3, ar))
got = unary(PORT, GETAR, f_bytes(2, key))
print(up["status"], got["status"], got["messages"] and tree(bytes.fromhex(got["messages"][0])))
if up["status"] == 0 and got["status"] == 0:
    assert 3 in decode(bytes.fromhex(got["messages"][0])), "the hit lost output_directories"
'
}

# The server's reads count as a use for the LRU eviction of --max-size:
# a blob read a minute ago is kept, one nobody has asked for in an hour
# goes first.
test_reads_count_as_use_for_eviction() {
	serve_start
	head -c 300000 /dev/urandom > hot.bin
	head -c 300000 /dev/urandom > cold.bin
	grpc_raw upload hot.bin >/dev/null
	local hot cold
	hot=$(sha256sum < hot.bin | cut -d' ' -f1)
	cold=$(sha256sum < cold.bin | cut -d' ' -f1)
	touch -d '2 hours ago' "$SERVE_STORE/cas/${hot:0:2}/$hot"
	grpc_raw upload cold.bin >/dev/null
	touch -d '1 hour ago' "$SERVE_STORE/cas/${cold:0:2}/$cold"
	# hot is read now, cold never
	grpc_raw read "$hot" 300000 | grep -q '"status": 0'
	serve_stop
	# a restart with room for one of them: the eviction runs at once
	serve_start --store "$SERVE_STORE" --max-size 400000
	local i
	for i in $(seq 50); do
		[ -e "$SERVE_STORE/cas/${cold:0:2}/$cold" ] && [ -e "$SERVE_STORE/cas/${hot:0:2}/$hot" ] || break
		sleep 0.1
	done
	ls -l --time-style=+%T "$SERVE_STORE"/cas/*/ >&2
	[ ! -e "$SERVE_STORE/cas/${cold:0:2}/$cold" ]
	[ -e "$SERVE_STORE/cas/${hot:0:2}/$hot" ]
}

# Any instance name reaches ByteStream, one that ends in "blobs"
# (team-blobs, ci/myblobs) or is "blobs", or ends in "uploads": instance
# names are the client's to choose (--remote_instance_name).
test_any_instance_name_reaches_bytestream() {
	serve_start
	grpc_py '
b = b"x" * 100
h = hashlib.sha256(b).hexdigest()
assert unary(PORT, BUPDATE, f_bytes(2, f_bytes(1, digest_of(b)) + f_bytes(2, b)))["status"] == 0
bad = []
for inst in ["", "main", "team-blobs", "blobs", "ci/myblobs"]:
    r = unary(PORT, READ, f_bytes(1, (inst + "/" if inst else "") + "blobs/%s/100" % h))
    if r["status"] != 0:
        bad.append(("Read", inst, r["status"], r["message"]))
for inst in ["", "main", "my-uploads"]:
    b2 = inst.encode() * 3 + b"y"
    res = (inst + "/" if inst else "") + "uploads/u1/blobs/%s/%d" % (hashlib.sha256(b2).hexdigest(), len(b2))
    r = unary(PORT, WRITE, f_bytes(1, res) + f_varint(3, 1) + f_bytes(10, b2))
    if r["status"] != 0:
        bad.append(("Write", inst, r["status"], r["message"]))
assert not bad, bad
'
}

# --metrics: /metrics passes promtool's check and counts what was served;
# /healthz answers; / is a plain HTML page; anything else is 404.
test_metrics_health_and_status_page() {
	peers_need promtool curl || return 1
	serve_start --metrics 127.0.0.1:0
	local line mport
	line=$(grep -m1 'metrics and status on' "$SERVE_LOG")
	mport=${line##*127.0.0.1:}
	mport=${mport%/}
	two_rules
	XDG_CACHE_HOME=$PWD/c1 run 0 cairn build --remote_cache="$SERVE_URL"
	run 0 curl -sf "http://127.0.0.1:$mport/healthz"
	has ok
	curl -sf "http://127.0.0.1:$mport/metrics" > metrics.txt
	promtool check metrics < metrics.txt
	grep -q '^cairn_serve_cache_requests_total{kind="ac",result="miss"} [1-9]' metrics.txt
	grep -q '^cairn_serve_rpc_duration_seconds_count{method="ActionCache/UpdateActionResult"} [1-9]' metrics.txt
	grep -q '^cairn_serve_connections_total [1-9]' metrics.txt
	run 0 curl -sf "http://127.0.0.1:$mport/"
	has "<h1>cairn serve</h1>"
	has "UpdateActionResult"
	lacks "<script"
	run 0 curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$mport/nope"
	has 404
}

# --auth-token-file: no token, UNAUTHENTICATED (the client builds locally);
# a read-write token reads and writes; a read-only one reads, and its
# writes are PERMISSION_DENIED.
test_tokens_read_write_and_read_only() {
	printf 'ci-0123456789abcdef rw ci\nlaptop-0123456789ab ro alice\n' > tokens
	serve_start --auth-token-file "$PWD/tokens"
	two_rules
	XDG_CACHE_HOME=$PWD/c0 run 0 cairn build --remote_cache="$SERVE_URL"
	has "UNAUTHENTICATED"
	rm -rf .cairn cairn-out
	XDG_CACHE_HOME=$PWD/c1 run 0 cairn build --remote_cache="$SERVE_URL" \
		--remote_header="authorization=Bearer ci-0123456789abcdef"
	rm -rf .cairn cairn-out
	XDG_CACHE_HOME=$PWD/c2 run 0 cairn build --remote_cache="$SERVE_URL" \
		--remote_header="authorization=Bearer laptop-0123456789ab" --noremote_upload_local_results
	has "(2 remote)"
	printf 'tokens\n' > bad
	run 2 "$CAIRN" serve --listen 127.0.0.1:0 --auth-token-file "$PWD/bad"
	has "bad:1: error:"
	# a read-only token that tries to write: refused on the server
	echo more > a/in.txt
	XDG_CACHE_HOME=$PWD/c3 run 0 cairn build --remote_cache="$SERVE_URL" \
		--remote_header="authorization=Bearer laptop-0123456789ab"
	grep -q "UpdateActionResult PERMISSION_DENIED: this token may only read\|BatchUpdateBlobs PERMISSION_DENIED: this token may only read" "$SERVE_LOG"
	grep -q "GetActionResult UNAUTHENTICATED" "$SERVE_LOG"
	eq "$(cat cairn-out/a/gen.txt)" "$(printf 'more\ngen')"
}

# --workers: Bazel 4.2.3, unchanged, executes its genrules on cairn serve
# (`--remote_executor`): each action in a sandboxed worker; after clean,
# every action comes from the server's cache.
test_bazel_executes_on_cairn_serve() {
	bazel_ws bz
	serve_start --workers 1:4
	cd bz
	run 0 bz build --remote_executor="$SERVE_URL" //a:all
	has "2 remote"
	eq "$(cat bazel-bin/a/gen.txt)" "$(printf 'hello\ngen')"
	test -x bazel-bin/a/tool.sh
	[ "$(served_calls Execute)" -ge 2 ]
	run 0 bz clean
	run 0 bz build --remote_executor="$SERVE_URL" //a:all
	bazel_hits 2
	store_sound "$SERVE_STORE"
	workers_clean
}

# --workers with cairn's client: actions run remotely, sandboxed (an
# action cannot read a file it did not declare); identical actions in
# flight run once; a failing action is no cache entry; a fresh checkout
# gets everything from the server's cache.
test_cairn_executes_on_cairn_serve() {
	ws
	mkdir -p a
	echo hello > a/in.txt
	write a/BUILD.lua <<L
genrule { name = "gen", srcs = { "in.txt" }, outs = { "gen.txt" }, cmd = "cat \$< > \$@; echo remote >> \$@" }
genrule { name = "peek", outs = { "peek.txt" }, cmd = "cat $PWD/a/in.txt > \$@ 2>/dev/null || echo sandboxed > \$@" }
genrule { name = "empty", outs = { "empty.txt" }, cmd = "touch \$@" }
genrule { name = "empty2", outs = { "empty2.txt" }, cmd = "touch \$@; true" }
genrule { name = "empty3", outs = { "empty3.txt" }, cmd = "touch \$@; true; true" }
L
	serve_start --workers 2:2
	XDG_CACHE_HOME=$PWD/c1 run 0 cairn build --remote_executor="$SERVE_URL"
	has "5 executed (5 remote)"
	eq "$(cat cairn-out/a/gen.txt)" "$(printf 'hello\nremote')"
	eq "$(cat cairn-out/a/peek.txt)" sandboxed
	write b/BUILD.lua <<'L'
genrule { name = "bad", outs = { "bad.txt" }, cmd = "echo nope >&2; exit 3" }
L
	XDG_CACHE_HOME=$PWD/c1 run 1 cairn build --remote_executor="$SERVE_URL" //b:bad
	has "nope"
	rm -rf .cairn cairn-out b
	XDG_CACHE_HOME=$PWD/c2 run 0 cairn build --remote_executor="$SERVE_URL"
	has "5 cached (5 remote)"
	eq "$(cat cairn-out/a/gen.txt)" "$(printf 'hello\nremote')"
}

# metric NAME: the value of one line of /metrics (after serve_start with
# --metrics 127.0.0.1:0).
metric() {
	local line mport
	line=$(grep -m1 'metrics and status on' "$SERVE_LOG")
	mport=${line##*127.0.0.1:}
	mport=${mport%/}
	curl -sf "http://127.0.0.1:$mport/metrics" | grep -v "^#" | grep -F "$1 " | awk '{ print $2 }'
}

# metric_is NAME VALUE: wait (up to 10 s) until the metric reads VALUE,
# then check that it does.
metric_is() {
	local _
	for _ in $(seq 100); do
		[ "$(metric "$1")" = "$2" ] && break
		sleep 0.1
	done
	eq "$(metric "$1")" "$2"
}

# The bound on the request bytes all calls hold at once (512 MiB; 8 MiB
# in cairn-hooks with CAIRN_HOOK_SERVE_HELD_8M): the call that would pass
# it gets RESOURCE_EXHAUSTED (8), the call holding the rest completes,
# and the server goes on serving.
test_request_bytes_held_are_bounded() {
	CAIRN=$CAIRN_HOOKS CAIRN_HOOK_SERVE_HELD_8M=1 serve_start
	local out
	out=$(grpc_py '
import json
blob = os.urandom(6 << 20)
h = hashlib.sha256(blob).hexdigest()
req = f_bytes(1, "uploads/u-1/blobs/%s/%d" % (h, len(blob))) + f_varint(3, 1) + f_bytes(10, blob)
framed = b"\0" + struct.pack(">I", len(req)) + req
c1 = Conn(PORT)
s1 = c1.open(WRITE)
c1.send_data(s1, framed[:5 << 20])
assert c1.ping()
c2 = Conn(PORT)
s2 = c2.open(WRITE)
c2.send_data(s2, framed[:5 << 20])
c2.wait(s2)
c1.send_data(s1, framed[5 << 20:], end=True)
c1.wait(s1)
print(json.dumps({"first": c1.result(s1)["status"], "second": c2.result(s2)["status"],
                  "hash": h}))
')
	echo "$out"
	eq "$(jf first <<< "$out")" 0
	eq "$(jf second <<< "$out")" 8
	grpc_raw read "$(jf hash <<< "$out")" $((6 << 20)) | grep -q '"status": 0'
	still_serves
}

# jf FIELD [FILE]: one field of grpc_raw's JSON (stdin, or FILE), as Python
# prints it.
jf() { python3 -c 'import json,sys; print(json.load(open(sys.argv[2]) if len(sys.argv) > 2 else sys.stdin)[sys.argv[1]])' "$@"; }

# Between actions a worker keeps only its empty input root, and once the
# server stops nothing is left of the workers' directories.
workers_clean() {
	local d
	for d in "$SERVE_STORE"/exec/*/; do
		[ -d "$d" ] || continue
		[ -z "$(ls -A "$d/root" 2>/dev/null)" ] || { echo "a worker kept its inputs: $d" >&2; return 1; }
	done
	serve_stop
	[ -z "$(ls -A "$SERVE_STORE/exec")" ]
}

# The pool: MIN workers warm before any Execute, growth while actions
# queue, back to MIN after --worker-idle, and a warm worker reused (no
# new process) for the next action.
test_workers_pool_grows_and_shrinks() {
	peers_need curl || return 1
	ws
	mkdir -p a
	write a/BUILD.lua <<'L'
genrule { name = "one", outs = { "one.txt" }, cmd = "sleep 2; echo 1 > $@" }
genrule { name = "two", outs = { "two.txt" }, cmd = "sleep 2; echo 2 > $@" }
genrule { name = "three", outs = { "three.txt" }, cmd = "sleep 2; echo 3 > $@" }
L
	serve_start --workers 1:3 --worker-idle 1 --metrics 127.0.0.1:0
	eq "$(metric 'cairn_serve_workers{state="idle"}')" 1
	eq "$(metric 'cairn_serve_workers{state="total"}')" 1
	XDG_CACHE_HOME=$PWD/c1 "$CAIRN" build -j 3 --remote_executor="$SERVE_URL" > b1.log 2>&1 &
	local client=$! most=0 n
	for _ in $(seq 60); do
		n=$(metric 'cairn_serve_workers{state="busy"}')
		[ "$n" -gt "$most" ] && most=$n
		[ "$most" = 3 ] && break
		sleep 0.05
	done
	wait "$client" || { cat b1.log; return 1; }
	eq "$most" 3
	grep -q "3 executed (3 remote)" b1.log
	eq "$(metric 'cairn_serve_workers_started_total')" 3
	metric_is 'cairn_serve_workers{state="total"}' 1
	eq "$(metric 'cairn_serve_workers{state="idle"}')" 1
	# the warm worker takes the next action: no process started
	sed -i 's/sleep 2; echo 1/echo one/' a/BUILD.lua
	XDG_CACHE_HOME=$PWD/c1 run 0 cairn build --remote_executor="$SERVE_URL" //a:one
	has "1 executed (1 remote)"
	eq "$(cat cairn-out/a/one.txt)" one
	eq "$(metric 'cairn_serve_workers_started_total')" 3
	workers_clean
}

# kill -9 of the server: its workers exit (their pipe closed), and the
# next server on the store sweeps the directories they left.
test_workers_dirs_of_a_killed_server_are_swept() {
	ws
	serve_start --workers 2:2
	local store=$SERVE_STORE d pid
	eq "$(jf code <<< "$(grpc_raw exec true)")" 0
	[ -n "$(ls -A "$store/exec")" ]
	serve_stop KILL
	for d in "$store"/exec/*; do
		pid=${d##*/}
		for _ in $(seq 100); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.05
		done
		fails kill -0 "$pid" 2>/dev/null # the worker did not outlive its server
	done
	serve_start --store "$store" --workers 1:1
	eq "$(jf code <<< "$(grpc_raw exec 'exit 0' --salt again)")" 0
	for d in "$store"/exec/*; do
		[ -e "$d" ] || continue
		kill -0 "${d##*/}" # only live workers' directories
	done
}

# An Action's timeout: the action is killed, the answer is
# DEADLINE_EXCEEDED (4) with what it printed, and the worker lives on.
test_action_past_its_timeout_is_killed() {
	peers_need curl || return 1
	ws
	serve_start --workers 1:1 --metrics 127.0.0.1:0
	local out
	out=$(grpc_raw exec 'echo started; sleep 30' --timeout 1)
	echo "$out"
	eq "$(jf status <<< "$out")" 0
	eq "$(jf code <<< "$out")" 4
	[ "$(jf seconds <<< "$out" | cut -d. -f1)" -lt 10 ]
	eq "$(metric 'cairn_serve_executions_total{outcome="timed_out"}')" 1
	out=$(grpc_raw exec 'exit 3' --timeout 5)
	eq "$(jf code <<< "$out")" 0
	eq "$(jf exit_code <<< "$out")" 3
	eq "$(metric 'cairn_serve_workers_started_total')" 1
	still_serves
	workers_clean
}

# --queue N: with every worker busy and N actions waiting, one more
# Execute is refused with RESOURCE_EXHAUSTED (8); those admitted finish.
test_queue_bound_refuses_beyond_it() {
	peers_need curl || return 1
	ws
	serve_start --workers 1:1 --queue 1 --metrics 127.0.0.1:0
	grpc_raw exec 'sleep 2' --salt a > a.json &
	local a=$!
	metric_is 'cairn_serve_workers{state="busy"}' 1
	grpc_raw exec 'sleep 1' --salt b > b.json &
	local b=$!
	metric_is 'cairn_serve_queue_length' 1
	local out
	out=$(grpc_raw exec 'true' --salt c)
	eq "$(jf status <<< "$out")" 8
	wait "$a" "$b"
	eq "$(jf code a.json)" 0
	eq "$(jf code b.json)" 0
	eq "$(metric 'cairn_serve_executions_total{outcome="refused"}')" 1
	still_serves
}

# A --queue that is not a count is exit 2, before anything listens.
test_queue_bound_must_be_a_count() {
	ws
	for bad in 0 -3 abc 1000001 5x; do
		run 2 cairn serve --listen 127.0.0.1:0 --workers 1:1 --queue "$bad"
		has "--queue wants a number from 1 to 1000000, not '$bad'"
	done
}

# The executor's care: a worker killed mid-action is replaced and its
# action tried again; a client that goes away takes its work with it;
# identical Executes in flight share one worker.
test_workers_retry_abandon_and_share() {
	peers_need curl || return 1
	ws
	mkdir -p a
	write a/BUILD.lua <<'L'
genrule { name = "slow", outs = { "slow.txt" }, cmd = "sleep 2; echo done > $@" }
L
	serve_start --workers 1:4 --metrics 127.0.0.1:0
	# a worker killed: the action is tried once more, and the build passes
	XDG_CACHE_HOME=$PWD/c1 "$CAIRN" build --remote_executor="$SERVE_URL" > b1.log 2>&1 &
	local client=$! w= x srv
	srv=$(pgrep -P "$SERVE_PID") # SERVE_PID is timeout(1), the server its child
	for _ in $(seq 100); do
		for x in $(pgrep -P "$srv"); do # the worker with an action
			pgrep -P "$x" > /dev/null && w=$x
		done
		[ -n "$w" ] && break
		sleep 0.05
	done
	[ -n "$w" ]
	kill -9 "$w"
	wait "$client"
	grep -q "1 executed (1 remote)" b1.log
	eq "$(cat cairn-out/a/slow.txt)" done
	eq "$(metric 'cairn_serve_executions_total{outcome="retried"}')" 1
	# a client that goes away: its worker is killed, and its action with
	# it, not left to run
	sed -i 's/sleep 2/sleep 30.25/' a/BUILD.lua
	XDG_CACHE_HOME=$PWD/c2 "$CAIRN" build --remote_executor="$SERVE_URL" > b2.log 2>&1 &
	client=$!
	metric_is 'cairn_serve_workers{state="busy"}' 1
	kill -9 "$client"
	wait "$client" || true
	metric_is 'cairn_serve_workers{state="busy"}' 0
	eq "$(metric 'cairn_serve_executions_total{outcome="abandoned"}')" 1
	for _ in $(seq 50); do
		pgrep -f "sleep 30.25" > /dev/null || break
		sleep 0.1
	done
	eq "$(pgrep -f "sleep 30.25")" ""
	# two clients, the same (new) action at once: one worker
	sed -i 's/sleep 30.25; echo done/sleep 2; echo shared/' a/BUILD.lua
	local other=$PWD/../other-checkout
	mkdir -p "$other" && cp -r WORKSPACE.lua a "$other/"
	XDG_CACHE_HOME=$PWD/c3 "$CAIRN" build --remote_executor="$SERVE_URL" > b3.log 2>&1 &
	local one=$!
	(cd "$other" && XDG_CACHE_HOME=$other/c4 "$CAIRN" build --remote_executor="$SERVE_URL") > b4.log 2>&1 &
	local two=$!
	wait "$one" || { cat b3.log; return 1; }
	wait "$two" || { cat b4.log; return 1; }
	grep -q "1 executed (1 remote)" b3.log
	grep -q "1 executed (1 remote)" b4.log
	eq "$(cat "$other/cairn-out/a/slow.txt")" shared
	eq "$(metric 'cairn_serve_executions_total{outcome="deduplicated"}')" 1
	still_serves
}

# --tls-cert and --tls-key: grpcs, the client trusting the certificate
# through SSL_CERT_FILE; a client that does not trust it is refused and
# builds locally.
test_tls() {
	peers_need openssl || return 1
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=localhost \
		-addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
		-keyout key.pem -out cert.pem 2>/dev/null
	serve_start --tls-cert "$PWD/cert.pem" --tls-key "$PWD/key.pem" --workers 1:2
	grep -q "over TLS on" "$SERVE_LOG"
	two_rules
	XDG_CACHE_HOME=$PWD/c0 run 0 cairn build --remote_executor="grpcs://localhost:$SERVE_PORT"
	has "warning"
	rm -rf .cairn cairn-out
	SSL_CERT_FILE=$PWD/cert.pem XDG_CACHE_HOME=$PWD/c1 run 0 cairn build \
		--remote_executor="grpcs://localhost:$SERVE_PORT"
	has "2 executed (2 remote)"
	two_rules_right
	run 2 "$CAIRN" serve --listen 127.0.0.1:0 --tls-cert "$PWD/cert.pem"
	has "--tls-cert and --tls-key go together"
}

# --workers: Bazel's C rules and `bazel test` execute on cairn serve. The
# network repositories Bazel's embedded tools load (rules_cc, rules_java,
# remote_coverage_tools) are overridden by the stubs in
# tests/peers/bazel_offline; the C toolchain is Bazel's autoconfigured
# local gcc (the worker's sandbox shows /usr read-only). Compiles, links
# and both tests run remotely; the binary runs; after clean, everything
# comes from the server's cache.
test_bazel_cc_and_test_execute_on_cairn_serve() {
	bazel_ws bz
	local r
	for r in rules_cc rules_java remote_coverage_tools; do
		echo "build --override_repository=$r=$TESTS/peers/bazel_offline/$r" >> bz/.bazelrc
	done
	cat > bz/a/BUILD <<'B'
cc_library(name = "lib", srcs = ["lib.c"], hdrs = ["lib.h"])
cc_binary(name = "hello", srcs = ["main.c"], deps = [":lib"])
cc_test(name = "lib_test", srcs = ["lib_test.c"], deps = [":lib"])
sh_test(name = "sh_test", srcs = ["t.sh"])
B
	printf 'int add(int a, int b);\n' > bz/a/lib.h
	printf '#include "a/lib.h"\nint add(int a, int b) { return a + b; }\n' > bz/a/lib.c
	printf '#include <stdio.h>\n#include "a/lib.h"\nint main(void) { printf("hello %%d\\n", add(2, 3)); return 0; }\n' > bz/a/main.c
	printf '#include "a/lib.h"\nint main(void) { return add(2, 3) == 5 ? 0 : 1; }\n' > bz/a/lib_test.c
	printf '#!/bin/sh\necho sh test ok\n' > bz/a/t.sh
	chmod +x bz/a/t.sh
	serve_start --workers 1:4
	cd bz
	run 0 bz build --remote_executor="$SERVE_URL" //...
	has ", 7 remote." # every compile, archive and link
	lacks "linux-sandbox"
	eq "$(bazel-bin/a/hello)" "hello 5"
	run 0 bz test --remote_executor="$SERVE_URL" //...
	has "Executed 2 out of 2 tests: 2 tests pass."
	lacks "linux-sandbox"
	[ "$(served_calls Execute)" -ge 9 ]
	run 0 bz clean
	run 0 bz test --remote_executor="$SERVE_URL" //...
	bazel_hits 11
	has "(cached) PASSED"
	has "2 tests pass."
	eq "$(bazel-bin/a/hello)" "hello 5"
	store_sound "$SERVE_STORE"
	workers_clean
}
