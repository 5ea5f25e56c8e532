#!/usr/bin/env bash
# Benchmark cairn against zstd's own CMake build (build/cmake, generating
# ninja) on a real C project: zstd 1.5.4, its library and its CLI (47
# compiles). See bench/README.md, "A real C project: zstd.sh".
#
#   bench/zstd.sh [--runs N] [--cairn PATH] [--out FILE] [-j N]
#                 [--cairn-flags "..."] [--keep]
#
# The source is Debian's (`apt-get source libzstd`, bookworm main),
# fetched and unpacked once into ${XDG_CACHE_HOME:-~/.cache}/cairn-bench/
# through a private apt configuration; the system's is left alone. Each
# run builds two fresh copies of it: one with bench/zstd/'s BUILD.lua
# files laid over it for cairn, one for CMake + ninja. The cached tree is
# never written to.
set -euo pipefail
# One { } block, read in full before it runs: editing this file during a
# run cannot change what runs.
{

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$here/lib.sh"
root=$(dirname "$here")

runs=3
jobs=2
cairn="$root/cairn"
cairn_flags=""
out="$here/RESULTS-zstd.md"
keep=0
# Back-to-back no-op builds per run; the run's figure is their median.
noop_reps=21

usage() {
	sed -n '2,/^set -e/{/^#/s/^# \{0,1\}//p}' "$0" >&2
	exit 2
}

while [ $# -gt 0 ]; do
	case $1 in
	--runs) runs=$2; shift 2 ;;
	--cairn) cairn=$2; shift 2 ;;
	--out) out=$2; shift 2 ;;
	-j|--jobs) jobs=$2; shift 2 ;;
	--cairn-flags) cairn_flags=$2; shift 2 ;;
	--keep) keep=1; shift ;;
	-h|--help) usage ;;
	*) echo "zstd.sh: unknown argument: $1" >&2; usage ;;
	esac
done
case $runs in ''|*[!0-9]*|0) echo "zstd.sh: --runs wants a positive number" >&2; exit 2 ;; esac
case $jobs in ''|*[!0-9]*|0) echo "zstd.sh: -j wants a positive number" >&2; exit 2 ;; esac
case $cairn in
/*) ;;
*/*) cairn="$PWD/$cairn" ;;
*) cairn=$(command -v "$cairn" || echo "$PWD/$cairn") ;;
esac
case $out in /*) ;; *) out="$PWD/$out" ;; esac
read -r -a cairn_extra <<<"$cairn_flags"

log() { printf '%s\n' "$*" >&2; }
die() { log "zstd.sh: $*"; exit 1; }

# --- what the run needs ---------------------------------------------------

# Debian packages, installed only when their command is missing: the peer
# (cmake, ninja), the compiler, dpkg-source for `apt-get source`.
need=""
for p in cmake:cmake ninja:ninja-build cc:gcc dpkg-source:dpkg-dev xz:xz-utils python3:python3; do
	command -v "${p%%:*}" >/dev/null || need="$need ${p#*:}"
done
if [ -n "$need" ]; then
	log "zstd.sh: installing$need"
	SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
	$SUDO apt-get update -qq
	# shellcheck disable=SC2086 # a list of names
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $need
fi
if [ ! -x "$cairn" ] && [ "$cairn" = "$root/cairn" ]; then
	make -s -C "$root" cairn
fi
"$cairn" --version >/dev/null 2>&1 || die "$cairn --version fails"
py=$(python3 -c 'import sys; print(sys.executable)')

# Decided before XDG_CACHE_HOME points into the scratch directory below.
cache_root="${XDG_CACHE_HOME:-$HOME/.cache}/cairn-bench"
src="$cache_root/zstd-1.5.4"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/cairn-bench-zstd.XXXXXX")
# Nothing of a run lands in the user's caches: cairn's default cache,
# if any build were to use it, is in here.
export XDG_CACHE_HOME="$tmp/xdg-cache"

nuke() {
	[ -e "$1" ] || return 0
	rm -rf "$1" 2>/dev/null || { chmod -R u+w "$1"; rm -rf "$1"; }
}
# shellcheck disable=SC2317 # reached through the trap
cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	if [ "$keep" = 1 ]; then log "zstd.sh: kept $tmp"; else nuke "$tmp"; fi
	rm -f "${report:-}"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- the source, fetched once ----------------------------------------------

# The mirror and keyring of the system's bookworm `main` (deb822 sources),
# else deb.debian.org.
mirror() {
	local f files=()
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -r "$f" ] && files+=("$f")
	done
	[ ${#files[@]} -gt 0 ] || return 0
	awk '
		function flush() {
			if (!done && uris != "" && types ~ /(^| )deb( |$)/ &&
			    suites ~ /(^| )bookworm( |$)/ && comps ~ /(^| )main( |$)/) {
				split(uris, u, " "); print u[1] "\t" key; done = 1
			}
			uris = suites = comps = types = key = ""
		}
		FNR == 1 { flush() }
		/^[[:space:]]*$/ { flush(); next }
		/^URIs:/ { sub(/^URIs:[[:space:]]*/, ""); uris = $0 }
		/^Suites:/ { sub(/^Suites:[[:space:]]*/, ""); suites = $0 }
		/^Components:/ { sub(/^Components:[[:space:]]*/, ""); comps = $0 }
		/^Types:/ { sub(/^Types:[[:space:]]*/, ""); types = $0 }
		/^Signed-By:/ { sub(/^Signed-By:[[:space:]]*/, ""); key = $0 }
		END { flush() }' "${files[@]}"
}

fetch_source() {
	local apt="$tmp/apt" m url key opts dir
	m=$(mirror)
	url=${m%%$'\t'*}
	key=${m#*$'\t'}
	[ -n "$url" ] || url=http://deb.debian.org/debian
	case $key in /*) ;; *) key=/usr/share/keyrings/debian-archive-keyring.gpg ;; esac
	log "zstd.sh: fetching Debian's libzstd source from $url (once, into $src)"
	mkdir -p "$apt/sources" "$apt/lists/partial" "$apt/cache/archives/partial" "$apt/get"
	printf 'Types: deb-src\nURIs: %s\nSuites: bookworm\nComponents: main\nSigned-By: %s\n' \
		"$url" "$key" >"$apt/sources/bench-deb-src.sources"
	# Only this file's entry (no sources.list), lists and cache of our own.
	opts=(-o "Dir::Etc::SourceParts=$apt/sources" -o "Dir::Etc::SourceList=/dev/null"
		-o "Dir::State::Lists=$apt/lists" -o "Dir::Cache=$apt/cache")
	# as root, apt would warn that _apt cannot write the download directory
	[ "$(id -u)" -eq 0 ] && opts+=(-o "APT::Sandbox::User=root")
	apt-get "${opts[@]}" -qq update >"$tmp/apt.log" 2>&1 ||
		{ cat "$tmp/apt.log" >&2; die "apt-get update (deb-src) failed"; }
	(cd "$apt/get" && apt-get "${opts[@]}" -q source libzstd) >>"$tmp/apt.log" 2>&1 ||
		{ tail -n 20 "$tmp/apt.log" >&2; die "apt-get source libzstd failed"; }
	dir=$(find "$apt/get" -mindepth 1 -maxdepth 1 -type d -name 'libzstd-*' | head -n 1)
	if [ -z "$dir" ] || [ ! -f "$dir/lib/zstd.h" ]; then
		die "apt-get source gave no libzstd tree (see $tmp/apt.log)"
	fi
	if ! grep -q '^#define ZSTD_VERSION_MINOR *5$' "$dir/lib/zstd.h" ||
		! grep -q '^#define ZSTD_VERSION_RELEASE *4$' "$dir/lib/zstd.h"; then
		die "bookworm's libzstd is not zstd 1.5.4 any more: $(basename "$dir")"
	fi
	mkdir -p "$cache_root"
	nuke "$src.tmp"
	mv "$dir" "$src.tmp"
	mv "$src.tmp" "$src" # the tree is there whole, or not at all
}
[ -d "$src" ] || fetch_source
debver=$(sed -n '1s/^libzstd (\([^)]*\)).*/\1/p' "$src/debian/changelog")

# --- versions, the machine --------------------------------------------------

cairn_ver=$("$cairn" --version | sed -n 1p)
# the last commit that changed what the binary is built from
commit=$(git -C "$root" log -1 --format=%h -- src Makefile 2>/dev/null || echo "?")
cmake_ver=$(cmake --version | sed -n 1p)
ninja_ver="ninja $(ninja --version)"
cc_ver=$(cc --version | sed -n 1p)
cpu_model=$(sed -n '/^model name/{s/^[^:]*:[[:space:]]*//p;q;}' /proc/cpuinfo 2>/dev/null || true)

# --- one run ----------------------------------------------------------------

data="$tmp/data"
mkdir -p "$data"
cfile=lib/compress/zstd_compress.c
hfile=lib/common/mem.h

# A build's command; it runs in the tool's copy of the tree.
cairn_argv() { cmd=("$cairn" build --cache-dir "$tmp/cache.cairn" -j "$jobs"
	${cairn_extra[@]+"${cairn_extra[@]}"} //...); }
ninja_argv() { cmd=(ninja -C "$tmp/cmake-build" -j "$jobs" zstd); }
configure_argv() { cmd=(cmake -S build/cmake -B "$tmp/cmake-build" -G Ninja
	-DCMAKE_BUILD_TYPE=Release -DZSTD_BUILD_SHARED=OFF -DCMAKE_EXPORT_COMPILE_COMMANDS=ON); }

# timed DIR LOG: run "${cmd[@]}" in DIR under measure.py; sets wall, rss
# (the tool's own), tree (the largest process's) and cpu (all processes');
# a failure ends the benchmark with the log's tail.
timed() {
	local line status
	line=$("$py" "$here/measure.py" --rss self --log "$2" -C "$1" -- "${cmd[@]}")
	read -r wall rss status tree cpu <<<"$line"
	if [ "$status" != 0 ]; then
		log "zstd.sh: '${cmd[*]}' failed (exit $status) in $1. Log tail:"
		tail -n 30 "$2" | sed 's/^/    | /' >&2
		exit 1
	fi
}

# A cairn build of ROW, recorded in data/cairn.ROW.
build_cairn() {
	local row=$1
	cairn_argv
	timed "$tmp/ws/cairn" "$tmp/cairn.$row.log"
	echo "$wall $rss 0 $tree $cpu" >>"$data/cairn.$row"
	log "  $row cairn: ${wall}s, CPU ${cpu}s, own $rss KiB; $(tail -n 1 "$tmp/cairn.$row.log")"
}

# A CMake + ninja build of ROW (full: configure first), in data/cmake.ROW.
build_cmake() {
	local row=$1 cwall=0 crss=0 ccpu=0 edges
	if [ "$row" = full ]; then
		configure_argv
		timed "$tmp/ws/cmake" "$tmp/cmake.$row.log"
		cwall=$wall crss=$rss ccpu=$cpu
		echo "$wall $rss 0 $tree $cpu" >>"$data/cmake.configure"
	fi
	ninja_argv
	: >"$tmp/ninja.$row.log"
	timed "$tmp/ws/cmake" "$tmp/ninja.$row.log"
	[ "$row" = full ] && echo "$wall $rss 0 $tree $cpu" >>"$data/cmake.ninja"
	edges=$(grep -c '^\[[0-9]*/[0-9]*\]' "$tmp/ninja.$row.log" || true)
	awk -v w0="$cwall" -v w1="$wall" -v c0="$ccpu" -v c1="$cpu" -v rss="$rss" -v tree="$tree" \
		'BEGIN { printf "%.6f %d 0 %d %.3f\n", w0 + w1, rss, tree, c0 + c1 }' >>"$data/cmake.$row"
	if [ "$row" = full ]; then
		log "  $row cmake: configure ${cwall}s, CPU ${ccpu}s, own $crss KiB; ninja ${wall}s, CPU ${cpu}s, own $rss KiB, $edges edges"
	else
		log "  $row cmake: ninja ${wall}s, CPU ${cpu}s, own $rss KiB, $edges edges"
	fi
}

# median_noop DIR LOG: the median wall time of noop_reps back-to-back
# runs of "${cmd[@]}" in DIR, each of which must succeed.
median_noop() {
	"$py" "$here/measure.py" -n "$noop_reps" --rss none --log "$2" -C "$1" -- "${cmd[@]}" |
		awk '$3 != 0 { bad = 1 } { print $1 } END { exit bad }' | sort -n |
		awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'
}

# no-op rows: the median of noop_reps back-to-back builds, and the own
# peak RSS of one more, traced (tracing costs a little time). CMake's
# side is ninja; `cmake --build` (ninja under cmake) is measured too.
noop() {
	local t=$1 dir med
	if [ "$t" = cairn ]; then cairn_argv; dir="$tmp/ws/cairn"; else ninja_argv; dir="$tmp/ws/cmake"; fi
	med=$(median_noop "$dir" "$tmp/$t.noop.log") || die "a no-op build of $t failed (see $tmp/$t.noop.log)"
	timed "$dir" "$tmp/$t.noop.log"
	echo "$med $rss 0 $tree -" >>"$data/$t.noop"
	log "  noop $t: ${med}s (median of $noop_reps), own $rss KiB"
	if [ "$t" = cmake ]; then
		cmd=(cmake --build "$tmp/cmake-build" --target zstd -j "$jobs")
		med=$(median_noop "$dir" "$tmp/$t.noop.log") || die "cmake --build failed (see $tmp/$t.noop.log)"
		echo "$med 0 0 0 -" >>"$data/cmake.noop_cbuild"
		log "  noop cmake --build: ${med}s (median of $noop_reps)"
	fi
}

# Append TEXT to FILE in both copies.
edit() {
	printf '%s\n' "$2" >>"$tmp/ws/cairn/$1"
	printf '%s\n' "$2" >>"$tmp/ws/cmake/$1"
}

# build TOOL ROW: one build of ROW by cairn or by CMake + ninja.
build() {
	case $1 in
	cairn) build_cairn "$2" ;;
	cmake) build_cmake "$2" ;;
	esac
}

# check_zstd BIN NAME: compress and decompress a few MB, compare.
check_zstd() {
	if ! "$1" -q -f "$tmp/in.tar" -o "$tmp/$2.zst" ||
		! "$1" -q -d -f "$tmp/$2.zst" -o "$tmp/$2.out" ||
		! cmp -s "$tmp/in.tar" "$tmp/$2.out"; then
		die "the zstd built by $2 does not round-trip $tmp/in.tar"
	fi
	rm -f "$tmp/$2.out"
}
check_both() {
	check_zstd "$tmp/ws/cairn/cairn-out/programs/zstd" cairn
	check_zstd "$tmp/cmake-build/programs/zstd" cmake
	# same sources, same flags: the same compressed bytes
	cmp -s "$tmp/cairn.zst" "$tmp/cmake.zst" ||
		die "cairn's and CMake's zstd compress $tmp/in.tar differently"
	log "  zstd ($1): compress, decompress, compare: ok (both builds, same bytes)"
}

# The test input: a tar of the source tree's lib, programs and tests.
tar -cf "$tmp/in.tar" -C "$src" lib programs tests

run_one() {
	local r=$1 order t
	# fresh copies; the cached tree is only read
	nuke "$tmp/ws"
	nuke "$tmp/cmake-build"
	nuke "$tmp/cache.cairn"
	mkdir -p "$tmp/ws"
	cp -R "$src" "$tmp/ws/cairn"
	cp -R "$src" "$tmp/ws/cmake"
	cp -R "$here/zstd/." "$tmp/ws/cairn/"
	# the tools take turns; who goes first alternates from run to run
	if [ $((r % 2)) = 0 ]; then order=(cairn cmake); else order=(cmake cairn); fi
	log "run $((r + 1))/$runs, order: ${order[*]}"
	for t in "${order[@]}"; do build "$t" full; done
	check_both "full build"
	for t in "${order[@]}"; do noop "$t"; done
	edit "$cfile" "int cairn_bench_edit_$r(void);"
	edit "$cfile" "int cairn_bench_edit_$r(void) { return $r; }"
	for t in "${order[@]}"; do build "$t" c_code; done
	edit "$cfile" "/* cairn bench: comment $r */"
	for t in "${order[@]}"; do build "$t" c_comment; done
	edit "$hfile" "#ident \"cairn bench edit $r\""
	for t in "${order[@]}"; do build "$t" h_code; done
	edit "$hfile" "/* cairn bench: comment $r */"
	for t in "${order[@]}"; do build "$t" h_comment; done
}

start=$(date +%s)
load0=$(cut -d' ' -f1 /proc/loadavg)
for ((r = 0; r < runs; r++)); do
	run_one "$r"
done
check_both "after the edits"
# Both sides compile the same sources with the same flags.
(cd "$tmp/ws/cairn" && "$cairn" compdb //... >/dev/null 2>&1) || die "cairn compdb failed"
flags=$("$py" "$here/zstd_report.py" flags "$tmp/ws/cairn/compile_commands.json" "$tmp/ws/cairn" \
	"$tmp/cmake-build/compile_commands.json" "$tmp/ws/cmake") || die "$flags"
log "$flags"
secs=$(($(date +%s) - start))
load1=$(cut -d' ' -f1 /proc/loadavg)

# --- report -----------------------------------------------------------------

body="# cairn benchmark: zstd 1.5.4, cairn against CMake + ninja

- machine: $(nproc) CPUs, ${cpu_model:-unknown CPU}, Linux $(uname -r)
- tools: cairn: $cairn_ver (built from commit ${commit:-?}); $cmake_ver generating $ninja_ver; $cc_ver
- source: Debian's libzstd $debver (zstd 1.5.4, \`apt-get source libzstd\`, bookworm main): the static library and the \`zstd\` CLI
- settings: -j $jobs, $runs run(s) per cell, median (min–max); peak RSS: the process's own VmHWM at its exit (\`measure.py --rss self\`); no-op: each run's figure is the median of $noop_reps back-to-back builds${cairn_flags:+; cairn flags: $cairn_flags}
- date: $(date -u +%Y-%m-%dT%H:%MZ); the whole run took ${secs} s; 1-minute load average ${load0} before it, ${load1} after it

$("$py" "$here/zstd_report.py" table "$data")

Compile commands: $flags.
The built \`zstd\` of both tools compresses and decompresses a $(($(stat -c %s "$tmp/in.tar") / 1024)) KiB tar of the source tree back to the same bytes, after the full build and after the edits, and both compress it to the same bytes.
Commands run in the last run, cairn / ninja: $(for row in full c_code c_comment h_code h_comment; do
	printf '%s %s / %s; ' "$row" \
		"$(tail -n 1 "$tmp/cairn.$row.log" | sed -n 's/^cairn: [0-9]* actions: \([0-9]*\) executed.*/\1/p')" \
		"$(grep -c '^\[[0-9]*/[0-9]*\]' "$tmp/ninja.$row.log" || true)"
done | sed 's/; $//') (on a comment, cairn stops when the objects come out the same; ninja archives and links again).

The machine is shared with other work: wall times of the compile-heavy rows swing with its load (see the ranges), so their ratios move from run to run; the CPU time of all processes is steadier and shows how much each tool adds to the compilers' work. cairn runs its actions in its sandbox (its default), ninja runs them directly.
"
printf '%s' "$body"
write_report "$out" "$body"
exit 0
}
