# Black-box tests of the HTTP remote cache (--remote_cache=http://...)
# against a real nginx WebDAV cache (tests/peers/nginx_cache.sh), and
# through the fault proxy (tests/peers/faultproxy.sh): results go up,
# come down into an empty local cache byte for byte, and every fault ends
# in a local build with one warning and no corrupt byte stored.

source "$TESTS/peers/nginx_cache.sh"
source "$TESTS/peers/faultproxy.sh"

source "$TESTS/peers/remote_checks.sh"

test_populates_nginx_then_an_empty_cache_builds_from_it() {
	nginx_cache_start
	two_rules
	run 0 cairn build --remote_cache="$NGINX_CACHE_URL"
	remote_summary 2 0 0 0
	warnings 0
	# both results and their blobs are there, under their names
	eq "$(ls "$NGINX_CACHE_ROOT/ac" | wc -l)" 2
	local f
	for f in cairn-out/a/gen.txt cairn-out/a/tool.sh; do
		test -f "$NGINX_CACHE_ROOT/cas/$(sha256sum < "$f" | cut -d' ' -f1)"
	done
	for f in "$NGINX_CACHE_ROOT"/cas/*; do
		eq "$(sha256sum < "$f" | cut -d' ' -f1)" "${f##*/}"
	done
	# a second workspace with an empty local cache: all from nginx
	local top=$PWD
	fresh two
	run 0 cairn build --remote_cache="$NGINX_CACHE_URL" --explain --events ev.json
	has "explain: //a:gen Genrule: remote cache hit"
	remote_summary 0 2 2 0
	warnings 0
	python3 -c '
import json
ev = [json.loads(l) for l in open("ev.json")]
assert [e["where"] for e in ev if e["type"] == "action"] == ["remote-cache"] * 2, ev
' 
	cmp cairn-out/a/gen.txt "$top/cairn-out/a/gen.txt"
	cmp cairn-out/a/tool.sh "$top/cairn-out/a/tool.sh"
	test -x cairn-out/a/tool.sh
	eq "$(sh cairn-out/a/tool.sh)" "$(printf 'hello\ngen')"
	cas_sound
	# and they are local now: no request for them again
	rm -rf cairn-out .cairn
	local before
	before=$(wc -l < "$NGINX_CACHE_ACCESS_LOG")
	run 0 cairn build --remote_cache="$NGINX_CACHE_URL" --explain
	lacks "remote cache hit"
	remote_summary 0 2 0 0
	eq "$(wc -l < "$NGINX_CACHE_ACCESS_LOG")" "$before"
	# a prefix keeps its own entries
	cd "$top"
	fresh three
	run 0 cairn build --remote_cache="$NGINX_CACHE_URL/team/x"
	remote_summary 2 0 0 0
	test -d "$NGINX_CACHE_ROOT/team/x/ac"
}

test_headers_go_with_every_request() {
	nginx_cache_start
	two_rules
	# nginx logs the user agent; a header of ours stands in for it
	run 0 cairn build --remote_cache="$NGINX_CACHE_URL" --remote_header=user-agent=cairn-test
	remote_summary 2 0 0 0
	eq "$(grep -c '"cairn-test"' "$NGINX_CACHE_ACCESS_LOG")" "$(wc -l < "$NGINX_CACHE_ACCESS_LOG")"
}

test_upload_off_uploads_nothing() {
	nginx_cache_start
	two_rules
	run 0 cairn build --remote_cache="$NGINX_CACHE_URL" --remote_upload_local_results=false
	remote_summary 2 0 0 0
	fails grep -q '"PUT ' "$NGINX_CACHE_ACCESS_LOG"
	eq "$(find "$NGINX_CACHE_ROOT" -type f | wc -l)" 0
	# it still looked
	grep -q '"GET /ac/' "$NGINX_CACHE_ACCESS_LOG"
}

test_flipped_byte_builds_locally_and_stores_nothing_corrupt() {
	nginx_cache_start
	two_rules
	# gen.txt of 100 kB: the first answer on a connection is gen's entry
	# (some 400 bytes) or, on a retry, the blob; byte 5000 is in the blob
	write a/BUILD.lua <<'L'
genrule { name = "gen", srcs = { "in.txt" }, outs = { "gen.txt" }, cmd = "cat $< > $@; head -c 100000 /dev/zero | tr '\\0' x >> $@" }
L
	run 0 cairn build --remote_cache="$NGINX_CACHE_URL"
	eq "$(wc -c < cairn-out/a/gen.txt)" 100006
	fresh two
	faultproxy_start "$NGINX_CACHE_PORT" "flip=5000"
	run 0 cairn build --remote_cache="http://127.0.0.1:$FAULTPROXY_PORT" --remote_upload_local_results=false
	summary_ok
	warnings 1
	has "does not match its digest; building locally"
	eq "$(wc -c < cairn-out/a/gen.txt)" 100006
	cas_sound
	out=$(faultproxy_conns)
	has "flipped=5000"
}

test_corrupt_blob_is_never_stored() {
	nginx_cache_start
	two_rules
	run 0 cairn build --remote_cache="$NGINX_CACHE_URL"
	# damage every blob on the server, keeping names and sizes
	local f
	for f in "$NGINX_CACHE_ROOT"/cas/*; do
		python3 -c 'import sys; p=sys.argv[1]; b=bytearray(open(p,"rb").read()); b[0]^=1; open(p,"wb").write(bytes(b))' "$f"
	done
	fresh two
	run 0 cairn build --remote_cache="$NGINX_CACHE_URL" --remote_upload_local_results=false
	remote_summary 2 0 0 0
	warnings 1
	has "does not match its digest"
	cas_sound
	# three tries, then given up: no more requests than that
	eq "$(grep -c '"GET /cas/' "$NGINX_CACHE_ACCESS_LOG")" 3
}

test_connection_refused_builds_locally() {
	two_rules
	local port
	port=$(peers_free_port)
	run 0 cairn build --remote_cache="http://127.0.0.1:$port"
	remote_summary 2 0 0 0
	warnings 1
	has "cairn: warning: remote cache http://127.0.0.1:$port: "
	has "; building locally"
}

test_cut_connection_mid_body_builds() {
	nginx_cache_start
	two_rules
	run 0 cairn build --remote_cache="$NGINX_CACHE_URL"
	fresh two
	# every connection cut after 300 bytes down: inside the first answer's body
	faultproxy_start "$NGINX_CACHE_PORT" "cut-down=300"
	run 0 cairn build --remote_cache="http://127.0.0.1:$FAULTPROXY_PORT" --remote_upload_local_results=false
	summary_ok
	warnings 1
	cas_sound
	# one cut, then the cache answers again: served after a retry
	cd ..
	fresh three
	faultproxy_mode "cut-down=300 pass"
	run 0 cairn build --remote_cache="http://127.0.0.1:$FAULTPROXY_PORT" --remote_upload_local_results=false
	remote_summary 0 2 2 0
	warnings 0
	cas_sound
}

test_server_errors_are_retried_then_given_up() {
	two_rules
	# a server that answers 503 to everything
	local port
	port=$(peers_free_port)
	python3 -c '
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_GET(self):
        open(sys.argv[2], "a").write(self.path + "\n")
        self.send_response(503); self.send_header("Content-Length", "0"); self.end_headers()
    do_PUT = do_GET
    def log_message(self, *a): pass
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()' "$port" "$PWD/reqs" &
	local srv=$!
	peers_wait_port "$port" "$srv" 10 /dev/null
	run 0 cairn build --remote_cache="http://127.0.0.1:$port"
	kill "$srv"
	remote_summary 2 0 0 0
	warnings 1
	has "HTTP 503"
	eq "$(wc -l < reqs)" 3
}

test_https_cache_round_trip_and_an_unknown_certificate() {
	NGINX_CACHE_TLS=1 nginx_cache_start
	two_rules
	SSL_CERT_FILE="$NGINX_CACHE_CERT" run 0 cairn build --remote_cache="$NGINX_CACHE_URL"
	remote_summary 2 0 0 0
	warnings 0
	grep -q '"PUT /ac/' "$NGINX_CACHE_ACCESS_LOG"
	fresh two
	SSL_CERT_FILE="$NGINX_CACHE_CERT" run 0 cairn build --remote_cache="$NGINX_CACHE_URL"
	remote_summary 0 2 2 0
	two_rules_right
	cas_sound
	# without the certificate trusted: one warning, a local build
	cd .. && fresh three
	run 0 cairn build --remote_cache="$NGINX_CACHE_URL"
	remote_summary 2 0 0 0
	warnings 1
	has "the server's certificate"
	two_rules_right
}

test_stalled_server_times_out_and_builds_locally() {
	nginx_cache_start
	two_rules
	# a server that accepts and never answers: each try waits
	# --remote_timeout, three tries, then the build goes on locally
	faultproxy_start "$NGINX_CACHE_PORT" "stall"
	local t0=$SECONDS
	run 0 cairn build --remote_cache="http://127.0.0.1:$FAULTPROXY_PORT" --remote_timeout=1
	remote_summary 2 0 0 0
	warnings 1
	has "timed out after 1000 ms; building locally"
	[ $((SECONDS - t0)) -lt 20 ]
}
