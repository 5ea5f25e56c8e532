#!/usr/bin/env bash
# Benchmark cairn against ninja and make (and Bazel when installed) on
# synthetic workspaces written by bench/gen.py. See bench/README.md.
#
#   bench/run.sh [--sizes "100x100 300x100"] [--runs N] [--cairn PATH]
#                [--out FILE] [-j N] [--startup-runs N] [--cairn-flags "..."]
#                [--skip "bazel make"] [--keep]
#
# Each tool gets its own copy of the workspace, so no tool walks or stats
# another's outputs; every edit is made to all copies. Within a run the
# tools take turns scenario by scenario, in an order that rotates from
# run to run, so drift on the machine falls on all of them alike. A tool
# that is missing or fails gets "n/a" cells; the others carry on.
set -euo pipefail
# The whole script is one { } block, read in full before it runs: editing
# or checking out this file during a long run cannot change what runs.
{

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$here/lib.sh"
root=$(dirname "$here")

sizes="100x100 300x100"
runs=3
jobs=$(nproc)
startup_runs=50
cairn="$root/cairn"
cairn_flags=""
skip=""
out="$here/RESULTS.md"
keep=0
# Above this many sources, make and Bazel sit out (1000x100: cairn and ninja).
big=50000

usage() {
	sed -n '2,/^set -e/{/^#/s/^# \{0,1\}//p}' "$0" >&2
	exit 2
}

while [ $# -gt 0 ]; do
	case $1 in
	--sizes) sizes=$2; shift 2 ;;
	--runs) runs=$2; shift 2 ;;
	--cairn) cairn=$2; shift 2 ;;
	--out) out=$2; shift 2 ;;
	-j|--jobs) jobs=$2; shift 2 ;;
	--startup-runs) startup_runs=$2; shift 2 ;;
	--cairn-flags) cairn_flags=$2; shift 2 ;;
	--skip) skip=$2; shift 2 ;;
	--keep) keep=1; shift ;;
	-h|--help) usage ;;
	*) echo "run.sh: unknown argument: $1" >&2; usage ;;
	esac
done
case $runs in ''|*[!0-9]*|0) echo "run.sh: --runs wants a positive number" >&2; exit 2 ;; esac
case $jobs in ''|*[!0-9]*|0) echo "run.sh: -j wants a positive number" >&2; exit 2 ;; esac
for t in $skip; do
	# ninja is the reference every ratio and output check is made against
	case $t in make|bazel) ;; *) echo "run.sh: --skip takes make or bazel, not '$t'" >&2; exit 2 ;; esac
done
skipped() { case " $skip " in *" $1 "*) return 0 ;; esac; return 1; }
for s in $sizes; do
	if ! [[ $s =~ ^[1-9][0-9]*x[1-9][0-9]*$ ]]; then
		echo "run.sh: bad size '$s' (want LxF, e.g. 100x100)" >&2
		exit 2
	fi
done
# We cd into workspaces: make the cairn path absolute.
case $cairn in
/*) ;;
*/*) cairn="$PWD/$cairn" ;;
*) cairn=$(command -v "$cairn" || echo "$PWD/$cairn") ;;
esac
read -r -a cairn_extra <<<"$cairn_flags"

# The real interpreter, not a shim script: it is started ~100 times.
py=$(python3 -c 'import sys; print(sys.executable)')

# Peak RSS: GNU time(1) when it is there, else measure.py's wait4 path.
rss_mode=${BENCH_RSS:-}
if [ -z "$rss_mode" ]; then
	rss_mode=wait4
	if f=$(mktemp) && /usr/bin/time -f %M -o "$f" true 2>/dev/null &&
		grep -qx '[0-9][0-9]*' "$f"; then
		rss_mode=gnu
	fi
	rm -f "${f:-}"
fi
case $rss_mode in
gnu|wait4) ;;
*) echo "run.sh: BENCH_RSS must be gnu or wait4" >&2; exit 2 ;;
esac

# Which tools can run: set in "tools" below.
declare -A have=([cairn]=0 [ninja]=0 [make]=0 [bazel]=0)

tmp=$(mktemp -d "${TMPDIR:-/tmp}/cairn-bench.XXXXXX")
# Nothing of a benchmark run lands in the user's caches.
export XDG_CACHE_HOME="$tmp/xdg-cache"

# rm -rf that also copes with read-only directories (caches, Bazel).
nuke() {
	[ -e "$1" ] || return 0
	rm -rf "$1" 2>/dev/null || { chmod -R u+w "$1"; rm -rf "$1"; }
}

bazel_cmd() { bazel "--output_user_root=$tmp/bazel-root" "$@"; }

# Bazel's client is a small launcher; the build runs in a server, a JVM
# that outlives the client and is not its child, so neither time(1) nor
# wait4() sees it. Its peak RSS is read from /proc instead: VmHWM, the
# same high-water mark the kernel gives as ru_maxrss, reset before each
# scenario by writing 5 to /proc/PID/clear_refs (Linux 4.0 and later).

# The pid of the running Bazel server of this run, or nothing.
bazel_server_pid() {
	local f pid argv
	for f in "$tmp"/bazel-root/*/server/server.pid.txt; do
		# No newline at its end: not `read`, which would fail.
		pid=$(cat "$f" 2>/dev/null) || continue
		[[ $pid =~ ^[0-9]+$ ]] || continue
		# A stale file after a crash could name a reused pid: check it.
		argv=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) || continue
		case $argv in *"$tmp/bazel-root/"*) echo "$pid"; return 0 ;; esac
	done
	return 0
}

# The server's peak RSS in KiB, 0 if none runs.
bazel_server_hwm() {
	local pid kb=""
	pid=$(bazel_server_pid)
	if [ -n "$pid" ]; then
		kb=$(sed -n 's/^VmHWM:[[:space:]]*\([0-9]*\) kB$/\1/p' "/proc/$pid/status" 2>/dev/null) || true
	fi
	echo "${kb:-0}"
}

# shellcheck disable=SC2317 # reached through the trap
cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	if [ "${have[bazel]}" = 1 ] && [ -d "$tmp/bazel" ]; then
		(cd "$tmp/bazel" && bazel_cmd shutdown >/dev/null 2>&1) || true
	fi
	if [ "$keep" = 1 ]; then
		echo "run.sh: kept $tmp" >&2
	else
		nuke "$tmp"
	fi
	rm -f "${report:-}"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

log() { printf '%s\n' "$*" >&2; }

# --- tools ----------------------------------------------------------------

cairn_ver="not available ($cairn)"
if [ -x "$cairn" ] && v=$("$cairn" --version 2>/dev/null); then
	have[cairn]=1
	cairn_ver=$(printf '%s\n' "$v" | sed -n 1p)
elif [ -x "$cairn" ]; then
	cairn_ver="not working ($cairn --version fails)"
fi
if command -v ninja >/dev/null; then
	have[ninja]=1
	ninja_ver="ninja $(ninja --version)"
else
	ninja_ver="ninja: not installed"
fi
if skipped make; then
	make_ver="make: skipped (--skip)"
elif command -v make >/dev/null; then
	have[make]=1
	make_ver=$(make --version | sed -n 1p)
else
	make_ver="make: not installed"
fi
if skipped bazel; then
	bazel_ver="bazel: skipped (--skip)"
elif command -v bazel >/dev/null; then
	have[bazel]=1
	bazel_ver=$(bazel --version 2>/dev/null | sed -n 1p) || true
	case $bazel_ver in
	"" | *no_version*) # Debian's bazel-bootstrap is built without a label
		if v=$(dpkg-query -W -f '${Version}' bazel-bootstrap 2>/dev/null) && [ -n "$v" ]; then
			bazel_ver="bazel ${v%%+*} (Debian bazel-bootstrap $v)"
		else
			bazel_ver="bazel (version unknown)"
		fi ;;
	esac
else
	bazel_ver="bazel: not installed, skipped"
	log "$bazel_ver"
fi
bazel_note=""
[ "${have[bazel]}" = 1 ] && bazel_note="- Bazel: the clean build starts a new server (after \`clean --expunge\`), the other rows use it warm; peak RSS is the server's (JVM) VmHWM, not the client's
"
[ "${have[cairn]}" = 1 ] || log "cairn: $cairn_ver; its cells will read n/a"

# Columns, in table order. cairn is always a column, even without data.
tools=(cairn ninja)
skipped make || tools+=(make)
[ "${have[bazel]}" = 1 ] && tools+=(bazel)

# argv of TOOL's build, in its workspace copy, into the array `cmd`.
build_argv() {
	case $1 in
	cairn) cmd=("$cairn" build --cache-dir "$tmp/cache.cairn" -j "$jobs"
		${cairn_extra[@]+"${cairn_extra[@]}"} //...) ;;
	ninja) cmd=(ninja -j "$jobs") ;;
	make) cmd=(make -r -j "$jobs") ;;
	bazel) cmd=(bazel "--output_user_root=$tmp/bazel-root" build "--jobs=$jobs"
		"--disk_cache=$tmp/cache.bazel" --symlink_prefix=/ //...) ;;
	esac
}

# Before a full clean build: no outputs, no state, an empty cache.
reset_clean() {
	local ws="$tmp/$1"
	case $1 in
	cairn) nuke "$ws/cairn-out"; nuke "$ws/.cairn"; nuke "$tmp/cache.cairn" ;;
	ninja) nuke "$ws/ninja-out" ;; # builddir: .ninja_log is in there too
	make) nuke "$ws/make-out" ;;
	bazel) (cd "$ws" && bazel_cmd clean --expunge >/dev/null 2>&1) || true
		nuke "$tmp/cache.bazel" ;;
	esac
}

# Before "outputs deleted": outputs gone, the cache (cairn, Bazel) kept.
reset_outputs() {
	local ws="$tmp/$1"
	case $1 in
	cairn) nuke "$ws/cairn-out" ;;
	ninja) nuke "$ws/ninja-out" ;;
	make) nuke "$ws/make-out" ;;
	bazel) (cd "$ws" && bazel_cmd clean >/dev/null 2>&1) || true ;;
	esac
}

out_dir() {
	case $1 in
	bazel) (cd "$tmp/bazel" && bazel_cmd info bazel-bin 2>/dev/null) || true ;;
	*) echo "$tmp/$1/$1-out" ;;
	esac
}

# --- one size -------------------------------------------------------------

# measure TOOL SCENARIO: one timed build; a failure drops TOOL for the size.
measure() {
	local tool=$1 sc=$2 line wall rss status spid=""
	[ -e "$tmp/data/$tool.broken" ] && return 0
	build_argv "$tool"
	if [ "$tool" = bazel ]; then
		# A warm server: its peak from now on. None (clean build, after
		# clean --expunge): the build starts one, whose peak is all its own.
		spid=$(bazel_server_pid)
		if [ -n "$spid" ] && ! { echo 5 >"/proc/$spid/clear_refs"; } 2>/dev/null; then
			log "  bazel: cannot reset the server's VmHWM; its $sc peak is since its start"
		fi
	fi
	line=$("$py" "$here/measure.py" --rss "$rss_mode" --log "$tmp/$tool.log" \
		-C "$tmp/$tool" -- "${cmd[@]}")
	read -r wall rss status <<<"$line"
	if [ -z "$status" ]; then
		log "run.sh: measure.py gave '$line' for $tool"
		exit 1
	fi
	if [ "$tool" = bazel ]; then # the client's figure is the launcher's
		rss=$(bazel_server_hwm)
		line="$wall $rss $status"
	fi
	echo "$line" >>"$tmp/data/$tool.$sc"
	log "  $sc $tool: ${wall}s, $rss KiB, exit $status"
	# cairn's last line says what ran: "cairn: N actions: E executed, C cached, ..."
	if [ "$tool" = cairn ] && [ "$status" = 0 ]; then
		log "    $(tail -n 1 "$tmp/$tool.log")"
	fi
	if [ "$status" != 0 ]; then
		touch "$tmp/data/$tool.broken"
		log "  $tool failed (exit $status) in '$sc'; it sits out the rest of this size. Log tail:"
		tail -n 20 "$tmp/$tool.log" | sed 's/^/    | /' >&2
	fi
}

# Append a line to FILE (relative to the workspace) in every copy.
edit_all() {
	local t
	for t in "${active[@]}"; do
		printf '/* edit %s */\n' "$2" >>"$tmp/$t/$1"
	done
}

# Compare every tool's outputs with ninja's (or the first tool's): prints
# a verdict line, returns 1 on a difference.
compare_outputs() {
	local t ref="" refdir="" d same="" differ="" ts=()
	for t in ninja "${active[@]}"; do
		case " ${ts[*]-} " in *" $t "*) continue ;; esac
		case " ${active[*]} " in *" $t "*) ts+=("$t") ;; esac
	done
	for t in "${ts[@]}"; do
		[ -e "$tmp/data/$t.broken" ] && continue
		d=$(out_dir "$t")
		if [ -z "$d" ] || [ ! -d "$d" ]; then continue; fi
		if [ -z "$ref" ]; then
			ref=$t refdir=$d same="$t-out"
		elif diff -r -q -x '.ninja_log' -x '.ninja_deps' "$refdir" "$d" >"$tmp/diff" 2>&1; then
			same+=" = $t-out"
		else
			differ+=" $t-out"
			log "  outputs of $ref and $t differ:"
			head -n 10 "$tmp/diff" | sed 's/^/    | /' >&2
		fi
	done
	if [ -z "$ref" ]; then
		echo "$1: nothing to compare"
	elif [ -z "$differ" ]; then
		echo "$1: $same"
	else
		echo "$1: $same; **differ from $ref-out:${differ}**"
		return 1
	fi
}

run_size() {
	local size=$1 nl=${1%x*} nf=${1#*x} t r i order n
	local srcfile hdrfile
	active=()
	nuke "$tmp/data"
	mkdir -p "$tmp/data"
	for t in "${tools[@]}"; do
		if [ "${have[$t]}" != 1 ]; then
			continue
		elif { [ "$t" = make ] || [ "$t" = bazel ]; } && [ $((nl * nf)) -gt "$big" ]; then
			touch "$tmp/data/$t.skipped"
			log "$size: $t skipped at this size"
			continue
		fi
		active+=("$t")
	done

	log "$size: writing ${#active[@]} workspace copies"
	for t in "${active[@]}"; do
		nuke "$tmp/$t"
		"$py" "$here/gen.py" --tools "$t" "$nl" "$nf" "$tmp/$t"
		: >"$tmp/$t.log"
	done
	srcfile="lib$((nl / 2))/src$((nf / 2)).c"
	hdrfile="lib$(((nl - 1) / 3))/lib.h"

	for ((r = 0; r < runs; r++)); do
		order=()
		n=${#active[@]}
		for ((i = 0; i < n; i++)); do
			order+=("${active[(i + r) % n]}")
		done
		log "$size: run $((r + 1))/$runs, order: ${order[*]}"
		for t in "${order[@]}"; do reset_clean "$t"; done
		for t in "${order[@]}"; do measure "$t" clean; done
		for t in "${order[@]}"; do measure "$t" noop; done
		edit_all "$srcfile" "run $r"
		for t in "${order[@]}"; do measure "$t" src; done
		edit_all "$hdrfile" "run $r"
		for t in "${order[@]}"; do measure "$t" hdr; done
		if [ $((r + 1)) = "$runs" ]; then
			compare_outputs "after incremental builds" >>"$tmp/verdict" || mismatch=1
		fi
		for t in "${order[@]}"; do reset_outputs "$t"; done
		for t in "${order[@]}"; do measure "$t" rmout; done
	done
	compare_outputs "after outputs deleted and rebuilt" >>"$tmp/verdict" || mismatch=1

	for t in "${active[@]}"; do
		case $t in bazel) continue ;; esac # a JVM client: not comparable
		build_argv "$t"
		"$py" "$here/measure.py" -n "$startup_runs" --rss none -- "${cmd[0]}" --version \
			>"$tmp/data/$t.startup"
	done
	# The Bazel server holds a few hundred MB: not through the next size.
	if [ "${have[bazel]}" = 1 ] && [ -d "$tmp/bazel" ]; then
		(cd "$tmp/bazel" && bazel_cmd shutdown >/dev/null 2>&1) || true
	fi
}

# --- report ---------------------------------------------------------------

cpu=$(sed -n '/^model name/{s/^[^:]*:[[:space:]]*//p;q;}' /proc/cpuinfo 2>/dev/null || true)
header="# cairn benchmark

- machine: $(nproc) CPUs, ${cpu:-unknown CPU}, Linux $(uname -r)
- tools: cairn: $cairn_ver; $ninja_ver; $make_ver; $bazel_ver
- settings: -j $jobs, $runs run(s) per cell, median (min–max); peak RSS by $(
	[ "$rss_mode" = gnu ] && echo "GNU time" || echo "wait4 (measure.py)"
); start-up: median of $startup_runs runs${cairn_flags:+; cairn flags: $cairn_flags}
- date: $(date -u +%Y-%m-%dT%H:%MZ)
${bazel_note}"
printf '%s' "$header"
body="$header"
mismatch=0
for size in $sizes; do
	: >"$tmp/verdict"
	run_size "$size"
	nl=${size%x*} nf=${size#*x}
	section="
## $size: $nl libraries × $nf sources ($((nl * nf + nl + (nl + 9) / 10)) actions)

$("$py" "$here/report.py" "$tmp/data" "${tools[@]}")

Outputs compared $(sed 's/$/;/' "$tmp/verdict" | tr '\n' ' ' | sed 's/; $/./')
"
	printf '%s' "$section"
	body+="$section"
done

write_report "$out" "$body"
if [ "$mismatch" = 1 ]; then
	log "run.sh: the tools' outputs differ (see above): a graph or a tool is wrong"
	exit 1
fi
exit 0
}
