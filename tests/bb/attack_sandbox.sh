# Black-box tests of the sandbox against an action that attacks it: each
# attack once as the user who runs the tests and once as an unprivileged
# user (when the tests run as root, setpriv to nobody). A secret outside
# the action's inputs must stay unread, the sources and the shared cache
# unwritten.

# as_both FN: run FN in a fresh workspace as this user, then (when root)
# in another owned by nobody, cairn run as nobody. FN sees $CAIRN_AS: the
# command prefix that runs cairn as that user.
as_both() {
	local fn=$1
	mkdir -p me && (cd me && ws && CAIRN_AS="cairn" "$fn")
	[ "$(id -u)" = 0 ] || return 0
	# a directory nobody can reach (the test's own is private)
	nobody_dir=$(mktemp -d /tmp/cairn-nobody.XXXXXX)
	trap 'rm -rf "$nobody_dir"' EXIT
	chmod 755 "$nobody_dir"
	mkdir "$nobody_dir/ws"
	(cd "$nobody_dir/ws" && ws && chown -R 65534:65534 .. &&
		CAIRN_AS="setpriv --reuid=65534 --regid=65534 --clear-groups env HOME=$nobody_dir XDG_CACHE_HOME=$nobody_dir/.cache $CAIRN" "$fn")
}

# as_user CODE ARGS...: run cairn ARGS as $CAIRN_AS, expecting CODE.
as_user() { local code=$1; shift; run "$code" $CAIRN_AS "$@"; }

# A secret beside the workspace and one inside it (undeclared); the
# source in.txt, which nothing may change.
plant() {
	echo secret-outside > ../outside.txt
	echo secret-inside > secret.txt
	echo in > in.txt
	[ "$CAIRN_AS" = cairn ] || chown 65534:65534 ../outside.txt secret.txt in.txt
}

escape_by_chroot() {
	plant
	local out=$PWD/../outside.txt in=$PWD/secret.txt src=$PWD/in.txt cache=${XDG_CACHE_HOME:-$HOME/.cache}
	[ "$CAIRN_AS" = cairn ] || cache=$PWD/../.cache
	# the attack of the report, then reads and writes by absolute path
	write BUILD.lua <<L
genrule { name = "esc", srcs = { "in.txt" }, outs = { "esc.txt" },
  cmd = [[perl -e 'mkdir "j"; chroot "j"; chdir ".." for 1..64; chroot ".";
    for my \$f ("$out", "$in") { print((open(F, "<", \$f) ? <F> : "hidden\n")) }
    open(G, ">>", "$src") and print G "X\n";
    mkdir "$cache/planted"' > \$@]] }
L
	as_user 0 build
	eq "$(cat cairn-out/esc.txt)" "$(printf 'hidden\nhidden')"
	eq "$(cat in.txt)" in
	[ ! -e "$cache/planted" ]
}

test_chroot_does_not_leave_the_image() {
	as_both escape_by_chroot
}

escape_by_chroot_in_own_namespace() {
	plant
	local out=$PWD/../outside.txt src=$PWD/in.txt
	# a user namespace of its own gives the action capabilities there
	write BUILD.lua <<L
genrule { name = "esc", srcs = { "in.txt" }, outs = { "esc.txt" },
  cmd = [[unshare -Ur perl -e 'mkdir "j"; chroot "j" or die "chroot: \$!"; chdir ".." for 1..64; chroot ".";
    print((open(F, "<", "$out") ? <F> : "hidden\n")); open(G, ">>", "$src") and print G "X\n"' > \$@]] }
L
	as_user 0 build
	eq "$(cat cairn-out/esc.txt)" hidden
	eq "$(cat in.txt)" in
}

test_chroot_in_a_nested_user_namespace_does_not_leave_the_image() {
	as_both escape_by_chroot_in_own_namespace
}

remount_input() {
	plant
	write BUILD.lua <<'L'
genrule { name = "rw", srcs = { "in.txt" }, outs = { "rw.txt" },
  cmd = "mount -o remount,rw,bind $< && echo X >> $<; echo done > $@" }
genrule { name = "rw2", srcs = { "in.txt" }, outs = { "rw2.txt" },
  cmd = "unshare -Urm sh -c 'mount -o remount,rw,bind $< && echo X >> $<'; echo done > $@" }
genrule { name = "under", srcs = { "in.txt" }, outs = { "under.txt" },
  cmd = "unshare -Urm sh -c 'umount $< && echo X >> $<'; cat $< > $@" }
L
	as_user 0 build
	eq "$(cat cairn-out/rw.txt)" done
	eq "$(cat cairn-out/rw2.txt)" done
	eq "$(cat cairn-out/under.txt)" in
	eq "$(cat in.txt)" in
}

test_an_input_cannot_be_remounted_writable() {
	as_both remount_input
}

no_privileges() {
	write BUILD.lua <<'L'
genrule { name = "id", outs = { "id.txt" },
  cmd = "id -u > $@; id -g >> $@; grep -E '^(Cap(Inh|Prm|Eff|Bnd|Amb)|NoNewPrivs):' /proc/self/status >> $@" }
L
	as_user 0 build
	eq "$(cat cairn-out/id.txt)" "$(printf '65534\n65534\nCapInh:\t0000000000000000\nCapPrm:\t0000000000000000\nCapEff:\t0000000000000000\nCapBnd:\t0000000000000000\nCapAmb:\t0000000000000000\nNoNewPrivs:\t1')"
}

test_an_action_runs_as_nobody_without_capabilities() {
	as_both no_privileges
}

test_only_stdio_reaches_an_action() {
	ws
	write BUILD.lua <<'L'
genrule { name = "direct", outs = { "direct.txt" }, cmd = "ls /proc/self/fd > $@" }
genrule { name = "shell", outs = { "shell.txt" }, cmd = "ls /proc/self/fd > $@ < /dev/null; true" }
L
	# descriptors cairn inherits without close-on-exec: a file and a
	# pipe's write end
	exec 7>leak.txt 8> >(cat >/dev/null)
	for mode in strict none; do
		rm -rf cairn-out
		run 0 cairn build --sandbox=$mode
		# 3 is the directory ls reads
		eq "$(cat cairn-out/direct.txt | tr '\n' ' ')" "0 1 2 3 "
		eq "$(cat cairn-out/shell.txt | tr '\n' ' ')" "0 1 2 3 "
	done
	exec 7>&- 8>&-
}

# Every test of tests/bb/sandbox.sh again, cairn run by nobody. (When the
# suite itself runs unprivileged, those tests are this test already.)
test_the_sandbox_tests_pass_as_nobody() {
	[ "$(id -u)" = 0 ] || return 0
	nobody_dir=$(mktemp -d /tmp/cairn-nobody.XXXXXX)
	trap 'rm -rf "$nobody_dir"' EXIT
	chmod 755 "$nobody_dir"
	local fn d failed="" n=0
	for fn in $(grep -oE '^test_[a-z0-9_]+' "$TESTS/bb/sandbox.sh"); do
		[ "$fn" != test_unprivileged_user ] || continue # becomes nobody itself
		d=$nobody_dir/$fn
		mkdir -p "$d/ws" "$d/home"
		chown -R 65534:65534 "$d"
		n=$((n + 1))
		(cd "$d/ws" && setpriv --reuid=65534 --regid=65534 --clear-groups \
			env HOME="$d/home" XDG_CACHE_HOME="$d/home/cache" CAIRN="$CAIRN" TESTS="$TESTS" \
			timeout 120 bash -e -u -o pipefail -c \
			'source "$TESTS/bb/lib.sh"; source "$TESTS/bb/sandbox.sh"; "$1"' _ "$fn") \
			>"$d.log" 2>&1 || { failed="$failed $fn"; tail -n 15 "$d.log"; }
	done
	[ "$n" -gt 10 ]
	eq "$failed" ""
}
