# Black-box tests of the remote flags (SPEC section 6) and the .cairnrc
# files: each flag's good and bad values, the URL forms through the CLI,
# and which of $HOME/.cairnrc, ROOT/.cairnrc and the command line wins.
# --announce_rc shows the flags in effect ("cairn: remote flags: ...").

# remote ARGS...: in an empty workspace, cairn build --announce_rc ARGS
# succeeds; $eff is its line of remote flags in effect.
remote() {
	[ -f WORKSPACE.lua ] || ws
	run 0 cairn build --announce_rc "$@"
	eff=$(printf '%s\n' "$out" | grep '^cairn: remote flags:')
}

# refused MESSAGE ARGS...: cairn build ARGS exits 2 and says MESSAGE.
refused() {
	local msg=$1
	shift
	[ -f WORKSPACE.lua ] || ws
	run 2 cairn build "$@"
	has "$msg"
}

test_defaults() {
	remote
	eq "$eff" "cairn: remote flags: --remote_timeout=60 --remote_upload_local_results=true --remote_download=all"
}

test_remote_cache_urls() {
	remote --remote_cache=grpc://localhost:8980
	has " --remote_cache=grpc://localhost:8980 "
	remote --remote_cache grpcs://cache.example.com:443
	has " --remote_cache=grpcs://cache.example.com:443 "
	remote --remote_cache=http://127.0.0.1:8080/cache/
	has " --remote_cache=http://127.0.0.1:8080/cache "
	remote --remote_cache=https://cache
	has " --remote_cache=https://cache:443 "
	remote --remote_cache=http://[::1]/ac
	has " --remote_cache=http://[::1]:80/ac "
	# the last one given wins
	remote --remote_cache=grpc://a:1 --remote_cache=grpc://b:2
	has " --remote_cache=grpc://b:2 "
	lacks "grpc://a:1"
}

test_remote_cache_malformed() {
	local any='(grpc://, grpcs://, http:// or https://)'
	refused "cairn: error: --remote_cache: 'cache:9092': no scheme $any" --remote_cache=cache:9092
	refused "cairn: error: --remote_cache: 'ftp://h:21': unknown scheme $any" --remote_cache=ftp://h:21
	refused "cairn: error: --remote_cache: 'grpc://:1': no host" --remote_cache=grpc://:1
	refused "cairn: error: --remote_cache: 'grpc://h': no port (grpc:// and grpcs:// need HOST:PORT)" \
		--remote_cache=grpc://h
	refused "cairn: error: --remote_cache: 'grpc://h:x': a bad port" --remote_cache=grpc://h:x
	refused "cairn: error: --remote_cache: 'grpc://h:0': port out of range (1 to 65535)" \
		--remote_cache=grpc://h:0
	refused "cairn: error: --remote_cache: 'grpc://h:65536': port out of range (1 to 65535)" \
		--remote_cache=grpc://h:65536
	refused "cairn: error: --remote_cache: 'http://h:80x/p': junk after the port" \
		--remote_cache=http://h:80x/p
	refused "cairn: error: --remote_cache: 'grpc://[::1:80': unterminated [IPv6 address" \
		--remote_cache=grpc://[::1:80
	refused "cairn: error: --remote_cache: 'https://me@h': a user@ part is not allowed" \
		--remote_cache=https://me@h
	refused "cairn: error: --remote_cache: 'http://h/p?x=1': a ?query is not allowed" \
		--remote_cache='http://h/p?x=1'
	refused "cairn: error: --remote_cache: 'http://h/p#f': a #fragment is not allowed" \
		--remote_cache='http://h/p#f'
	refused "cairn: error: --remote_cache: 'grpc://h:1/main': grpc:// and grpcs:// take no /PREFIX" \
		--remote_cache=grpc://h:1/main
	has "(run 'cairn --help' for usage)"
	refused "cairn: error: flag '--remote_cache' needs a value" --remote_cache
}

# An executor reads its inputs from its own CAS: an HTTP cache beside it
# is refused before anything runs (exit 2), nothing contacted.
test_remote_executor_with_an_http_cache_is_refused() {
	ws
	write p/BUILD.lua <<'L'
genrule { name = "x", outs = { "x.txt" }, cmd = "echo x > $@" }
L
	run 2 cairn build --remote_executor=grpc://127.0.0.1:1 --remote_cache=http://127.0.0.1:1
	has "cairn: error: --remote_executor with an HTTP --remote_cache"
	[ ! -e cairn-out/p/x.txt ]
}

test_remote_executor() {
	remote --remote_executor=grpcs://rbe.example.com:443 --remote_cache=grpc://c:1
	has " --remote_cache=grpc://c:1 --remote_executor=grpcs://rbe.example.com:443 "
	refused "cairn: error: --remote_executor wants grpc:// or grpcs://, not 'http://h:8080'" \
		--remote_executor=http://h:8080
	refused "cairn: error: --remote_executor: 'h:8980': no scheme" --remote_executor=h:8980
}

test_instance_name_timeout_download_upload() {
	remote --remote_instance_name=projects/p/instances/default --remote_timeout=5 \
		--remote_download toplevel --noremote_upload_local_results
	has " --remote_instance_name=projects/p/instances/default "
	has " --remote_timeout=5 --remote_upload_local_results=false --remote_download=toplevel"
	remote --remote_timeout=120s --remote_upload_local_results=false --remote_upload_local_results
	has " --remote_timeout=120 --remote_upload_local_results=true "
	remote --remote_upload_local_results=false --remote_download=all
	has " --remote_upload_local_results=false --remote_download=all"
	refused "cairn: error: --remote_instance_name: 'a b' has a blank or a control character" \
		--remote_instance_name='a b'
	local t
	for t in 0 -5 abc 10m 86401 1.5 s ''; do
		refused "cairn: error: --remote_timeout wants a number of seconds from 1 to 86400, not '$t'" \
			--remote_timeout="$t"
	done
	refused "cairn: error: --remote_download wants all or toplevel, not 'some'" --remote_download=some
	refused "cairn: error: --remote_upload_local_results wants true or false, not 'yes'" \
		--remote_upload_local_results=yes
	refused "cairn: error: flag '--noremote_upload_local_results' takes no value" \
		--noremote_upload_local_results=false
	# a boolean never takes the next word: 'false' is a pattern here
	run 2 cairn build --remote_upload_local_results false
	has "false"
}

test_remote_headers() {
	remote --remote_header=X-Team=infra --remote_header 'Authorization=Bearer a=b' \
		--remote_header=x-empty=
	has " --remote_header=x-team=*** --remote_header=authorization=*** --remote_header=x-empty=*** "
	lacks "Bearer"
	refused "cairn: error: --remote_header wants NAME=VALUE, not 'novalue'" --remote_header=novalue
	refused "cairn: error: --remote_header wants NAME=VALUE, not '=v'" --remote_header==v
	refused "cairn: error: --remote_header: 'x y' is not a header name (letters, digits, '-', '_' and '.')" \
		--remote_header='x y=1'
	refused "cairn: error: --remote_header: ':path' is not a header name" --remote_header=:path=/
	refused "cairn: error: --remote_header: the value of 'x' has a control character" \
		--remote_header="x=a$(printf '\r')b"
}

# home < workspace < command line, for one value; headers accumulate in
# that order.
test_rc_precedence() {
	ws
	write "$HOME/.cairnrc" <<'R'
common --remote_timeout=10 --remote_instance_name=home --remote_header=x-a=1
common --remote_cache=grpc://home:1
R
	remote
	has " --remote_cache=grpc://home:1 --remote_instance_name=home --remote_header=x-a=*** --remote_timeout=10 "
	has "cairn: $HOME/.cairnrc:1: common --remote_timeout=10 --remote_instance_name=home --remote_header=x-a=***"
	write .cairnrc <<'R'
build --remote_timeout=20 --remote_header x-b=2
R
	remote
	has " --remote_cache=grpc://home:1 --remote_instance_name=home --remote_header=x-a=*** --remote_header=x-b=*** --remote_timeout=20 "
	has "cairn: .cairnrc:1: build --remote_timeout=20 --remote_header x-b=***"
	remote --remote_timeout=30 --remote_header=x-c=3 --remote_instance_name=cli
	has " --remote_instance_name=cli --remote_header=x-a=*** --remote_header=x-b=*** --remote_header=x-c=*** --remote_timeout=30 "
	# the escape hatches
	remote --nohome_rc
	has "cairn: remote flags: --remote_header=x-b=*** --remote_timeout=20 "
	remote --noworkspace_rc
	has " --remote_header=x-a=*** --remote_timeout=10 "
	remote --nohome_rc --noworkspace_rc
	eq "$eff" "cairn: remote flags: --remote_timeout=60 --remote_upload_local_results=true --remote_download=all"
	# from a directory below the root, the same files
	mkdir -p sub
	cd sub
	run 0 cairn query --announce_rc //...
	cd ..
	has "cairn: $HOME/.cairnrc:1: common"
	has " --remote_timeout=10 " # query takes common lines, not build's
	lacks "cairn: .cairnrc:1: build"
}

test_rc_commands_comments_quotes() {
	ws
	write .cairnrc <<'R'
# a comment, then a blank line

common --remote_instance_name=all   # a trailing comment
build --remote_timeout=2
test --remote_timeout=3
query --remote_timeout=4
startup --output_base=/x
build:ci --bogus
buidl --also-ignored
common --remote_header="x-q=two words" -j 2
R
	remote
	has " --remote_instance_name=all --remote_header=x-q=*** --remote_timeout=2 "
	lacks ".cairnrc:5"
	lacks ".cairnrc:7"
	write t/BUILD.lua <<'L'
sh_test { name = "ok", srcs = { "ok.sh" } }
L
	echo 'exit 0' > t/ok.sh
	run 0 cairn test --announce_rc //t:ok
	has "cairn: .cairnrc:4: build --remote_timeout=2"
	has "cairn: .cairnrc:5: test --remote_timeout=3"
	has " --remote_timeout=3 "
	run 0 cairn query --announce_rc //...
	has " --remote_timeout=4 "
	lacks ".cairnrc:4:"
}

test_rc_errors() {
	ws
	printf 'common --remote_timeout=5\nbuild --remote_cache=grpc://h\n' > .cairnrc
	run 2 cairn build
	eq "$out" ".cairnrc:2: error: --remote_cache: 'grpc://h': no port (grpc:// and grpcs:// need HOST:PORT)"
	printf '# x\n\nbuild --frob\n' > .cairnrc
	run 2 cairn build
	eq "$out" ".cairnrc:3: error: unknown flag '--frob'"
	printf 'common --explain=1\n' > .cairnrc
	run 2 cairn plan
	eq "$out" ".cairnrc:1: error: flag '--explain' takes no value"
	printf 'build -j\n' > .cairnrc
	run 2 cairn build
	eq "$out" ".cairnrc:1: error: flag '-j' needs a value"
	printf 'build //app:all\n' > .cairnrc
	run 2 cairn build
	eq "$out" ".cairnrc:1: error: '//app:all' is not a flag"
	printf -- '--remote_timeout=5\n' > .cairnrc
	run 2 cairn build
	eq "$out" ".cairnrc:1: error: a line starts with a command (common, build, test, ...), not '--remote_timeout=5'"
	printf 'build --remote_header="x=1\n' > .cairnrc
	run 2 cairn build
	eq "$out" ".cairnrc:1: error: unterminated quote"
	printf 'common --nohome_rc\n' > .cairnrc
	run 2 cairn build
	eq "$out" ".cairnrc:1: error: --nohome_rc goes on the command line, not in a .cairnrc"
	# a bad line for another command is not read
	printf 'test --frob\n' > .cairnrc
	run 0 cairn build
	# the home file is named by its path
	rm .cairnrc
	printf 'common --remote_download=some\n' > "$HOME/.cairnrc"
	run 2 cairn build
	eq "$out" "$HOME/.cairnrc:1: error: --remote_download wants all or toplevel, not 'some'"
	run 0 cairn build --nohome_rc
	# an rc file that cannot be read
	rm "$HOME/.cairnrc"
	mkdir "$HOME/.cairnrc"
	run 2 cairn build
	has "cairn: error: cannot read $HOME/.cairnrc: "
}

# A relative path in an rc file is taken from the file's directory; on the
# command line, from where cairn runs. gc reads the rc files too.
test_rc_paths() {
	ws
	write p/BUILD.lua <<'L'
genrule { name = "x", outs = { "x.txt" }, cmd = "echo x > $@" }
L
	printf 'build --events=ev.json\ngc --cache-dir=mycache\n' > .cairnrc
	mkdir -p sub
	cd sub
	run 0 cairn build //p:x
	cd ..
	[ -s ev.json ]
	[ ! -e sub/ev.json ]
	run 0 cairn gc --max-size 1G
	has " kept in $PWD/mycache"
	run 0 cairn gc --max-size 1G --cache-dir=other
	has " kept in other"
}

# Without any .cairnrc, cairn looks for the two files and nothing more.
test_rc_costs_two_failed_opens() {
	command -v strace >/dev/null || return 0
	ws
	write p/BUILD.lua <<'L'
genrule { name = "x", outs = { "x.txt" }, cmd = "echo x > $@" }
L
	cairn build >/dev/null
	cairn build >/dev/null
	# LeakSanitizer cannot run under ptrace
	run 0 env ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
		strace -f -e trace=openat,open,stat,newfstatat -o trace.txt "$CAIRN" build
	eq "$(grep -c 'cairnrc' trace.txt)" 2
	grep 'cairnrc' trace.txt | grep -q "\"$HOME/.cairnrc\".*ENOENT"
	grep 'cairnrc' trace.txt | grep -q "\"$PWD/.cairnrc\".*ENOENT"
	eq "$(grep -c "\"$PWD/WORKSPACE.lua\"" trace.txt)" 1
}
