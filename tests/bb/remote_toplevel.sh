# Black-box tests of --remote_download=toplevel against Bazel's RemoteWorker
# (tests/peers/remote_worker.sh): a fresh workspace fetches only the
# outputs it asked for; an intermediate left in the cache is fetched, byte
# for byte, when a local action needs it.

source "$TESTS/peers/remote_worker.sh"
source "$TESTS/peers/remote_checks.sh"

# chain: a/in.txt -> gen.txt (100 kB) -> tool.sh, in the cwd.
chain() {
	ws
	mkdir -p a
	echo hello > a/in.txt
	write a/BUILD.lua <<'L'
genrule { name = "gen", srcs = { "in.txt" }, outs = { "gen.txt" }, cmd = "cat $< > $@; head -c 100000 /dev/zero | tr '\\0' g >> $@" }
genrule { name = "tool", srcs = { ":gen" }, outs = { "tool.sh" }, cmd = "(echo '#!/bin/sh'; head -c 20 $<) > $@; chmod +x $@" }
L
}

bytes_down() { final "$1" bytes_down; }

test_toplevel_fetches_only_what_was_asked_for() {
	netns_private
	remote_worker_start
	chain
	run 0 cairn build --remote_cache="$REMOTE_WORKER_URL" //a:tool
	local want
	want=$(sha256sum < cairn-out/a/tool.sh)
	fresh two
	run 0 cairn build --remote_cache="$REMOTE_WORKER_URL" --remote_download=toplevel --events ev //a:tool
	summary 0 2 0 2
	[ ! -e cairn-out/a/gen.txt ]
	eq "$(sha256sum < cairn-out/a/tool.sh)" "$want"
	[ -x cairn-out/a/tool.sh ]
	# the 100 kB intermediate never came down
	local down
	down=$(bytes_down ev)
	[ "$down" -lt 20000 ] || { echo "fetched $down bytes" >&2; return 1; }
	# with all, it does
	cd .. && fresh three
	run 0 cairn build --remote_cache="$REMOTE_WORKER_URL" --events ev //a:tool
	[ -f cairn-out/a/gen.txt ]
	down=$(bytes_down ev)
	[ "$down" -gt 100000 ] || { echo "fetched only $down bytes" >&2; return 1; }
}

test_toplevel_fetches_an_intermediate_a_local_action_needs() {
	netns_private
	remote_worker_start
	chain
	run 0 cairn build --remote_cache="$REMOTE_WORKER_URL" //a:tool
	local gen
	gen=$(sha256sum < cairn-out/a/gen.txt)
	fresh two
	run 0 cairn build --remote_cache="$REMOTE_WORKER_URL" --remote_download=toplevel //a:tool
	[ ! -e cairn-out/a/gen.txt ]
	# tool's command changes: it runs here, on gen.txt from the cache
	sed -i 's@#!/bin/sh@#!/bin/bash@' a/BUILD.lua
	run 0 cairn build --remote_cache="$REMOTE_WORKER_URL" --remote_download=toplevel //a:tool
	summary 1 1 0 0
	eq "$(sha256sum < cairn-out/a/gen.txt)" "$gen"
	eq "$(head -n 1 cairn-out/a/tool.sh)" "#!/bin/bash"
	# and a build of the intermediate itself brings it down as well
	rm -f cairn-out/a/gen.txt
	run 0 cairn build --remote_cache="$REMOTE_WORKER_URL" --remote_download=toplevel //a:gen
	eq "$(sha256sum < cairn-out/a/gen.txt)" "$gen"
}
