#!/usr/bin/env bash
# Benchmark cairn's remote cache and remote execution against ninja and
# Bazel, with Bazel's RemoteWorker as the remote. See bench/README.md.
#
#   bench/remote.sh [--size 100x100] [--exec-size 30x100] [--runs N]
#                   [--cairn PATH] [--out FILE] [-j N] [--remote-jobs N]
#                   [--skip "bazel cairn cache exec"] [--keep]
#
# Everything runs in a network namespace of its own whose only interface
# is loopback (tests/peers/netns.sh): RemoteWorker binds every interface,
# and nothing here may reach the network. Workspaces come from gen.py,
# times from measure.py, cells formatted as report.py does them
# (remote_report.py). A cairn build that fails, or that takes nothing
# from the remote, reads "failed" (its log tail is printed); the rest of
# the run carries on.
set -euo pipefail
# One { } block, read in full before it runs (as run.sh).
{

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$here/lib.sh"
root=$(dirname "$here")

size=100x100
exec_size=30x100
runs=3
jobs=$(nproc)
remote_jobs=32
cairn=""
skip=""
out="$here/RESULTS-remote.md"
keep=0

usage() {
	sed -n '2,/^set -e/{/^#/s/^# \{0,1\}//p}' "$here/remote.sh" >&2
	exit 2
}

args=("$@")
while [ $# -gt 0 ]; do
	case $1 in
	--size) size=$2; shift 2 ;;
	--exec-size) exec_size=$2; shift 2 ;;
	--runs) runs=$2; shift 2 ;;
	--cairn) cairn=$2; shift 2 ;;
	--out) out=$2; shift 2 ;;
	-j|--jobs) jobs=$2; shift 2 ;;
	--remote-jobs) remote_jobs=$2; shift 2 ;;
	--skip) skip=$2; shift 2 ;;
	--keep) keep=1; shift ;;
	-h|--help) usage ;;
	*) echo "remote.sh: unknown argument: $1" >&2; usage ;;
	esac
done
for n in "$runs" "$jobs" "$remote_jobs"; do
	case $n in ''|*[!0-9]*|0) echo "remote.sh: --runs, -j and --remote-jobs want a positive number" >&2; exit 2 ;; esac
done
for s in "$size" "$exec_size"; do
	if ! [[ $s =~ ^[1-9][0-9]*x[1-9][0-9]*$ ]]; then
		echo "remote.sh: bad size '$s' (want LxF, e.g. 100x100)" >&2
		exit 2
	fi
done
for t in $skip; do
	case $t in bazel|cairn|cache|exec) ;; *) echo "remote.sh: --skip takes bazel, cairn, cache or exec, not '$t'" >&2; exit 2 ;; esac
done
skipped() { case " $skip " in *" $1 "*) return 0 ;; esac; return 1; }

# Into the private network namespace: this script again, from the start.
if [ "${CAIRN_NETNS:-}" != "$(readlink /proc/self/ns/net)" ]; then
	exec "$root/tests/peers/netns.sh" bash "$here/remote.sh" ${args[@]+"${args[@]}"}
fi

log() { printf '%s\n' "$*" >&2; }

# The default binary is the repository's, built when missing.
if [ -z "$cairn" ]; then
	cairn="$root/cairn"
	if [ ! -x "$cairn" ] && ! skipped cairn; then
		log "remote.sh: no $cairn: make -C $root cairn"
		make -C "$root" cairn >&2 || log "remote.sh: make failed; cairn's cells will read n/a"
	fi
fi
# We cd into workspaces: make the cairn path absolute.
case $cairn in
/*) ;;
*/*) cairn="$PWD/$cairn" ;;
*) cairn=$(command -v "$cairn" || echo "$PWD/$cairn") ;;
esac

py=$(python3 -c 'import sys; print(sys.executable)')

scratch=$(mktemp -d "${TMPDIR:-/tmp}/cairn-bench-remote.XXXXXX")
# Nothing of a benchmark run lands in the user's caches.
export XDG_CACHE_HOME="$scratch/xdg-cache"
# The peers' files (RemoteWorker's CAS, work dirs, log) go here too, and
# a worker lives as long as this run needs it (lib.sh's default is 600 s).
export PEERS_DIR="$scratch/peers"
export PEERS_MAX_SECONDS=${PEERS_MAX_SECONDS:-21600}
# shellcheck source=../tests/peers/remote_worker.sh
source "$root/tests/peers/remote_worker.sh"

# rm -rf that also copes with read-only directories (caches, Bazel).
nuke() {
	[ -e "$1" ] || return 0
	rm -rf "$1" 2>/dev/null || { chmod -R u+w "$1"; rm -rf "$1"; }
}

# Bazel as run.sh runs it: its output user root in the temporary directory
# (the generated .bazelrc keeps it offline). An array, for measure.py.
bz=(bazel "--output_user_root=$scratch/bazel-root")
bazel_cmd() { "${bz[@]}" "$@"; }

bazel_ws=()     # Bazel workspaces that may have a server running
bazel_down() {
	local ws
	for ws in ${bazel_ws[@]+"${bazel_ws[@]}"}; do
		if [ -d "$ws" ]; then (cd "$ws" && bazel_cmd shutdown >/dev/null 2>&1) || true; fi
	done
}

# shellcheck disable=SC2317 # reached through the trap
cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	set +e
	bazel_down
	peers_stop_all
	if [ "$keep" = 1 ]; then
		log "remote.sh: kept $scratch"
	else
		nuke "$scratch"
	fi
	rm -f "${report:-}"
	exit "$rc"
}
# Set again after each start of a peer: peers_spawn sets its own.
set_traps() {
	trap cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
}
set_traps

# worker_up / worker_down: a RemoteWorker with an empty CAS, and its end
# (its directory goes with it).
# shellcheck disable=SC2119 # no arguments for RemoteWorker
worker_up() {
	remote_worker_start
	set_traps
}
# shellcheck disable=SC2119
worker_down() {
	[ -n "${REMOTE_WORKER_PID:-}" ] || return 0
	remote_worker_stop || true
	nuke "$(dirname "$REMOTE_WORKER_CAS")"
	REMOTE_WORKER_PID=""
}

# --- tools ----------------------------------------------------------------

declare -A have=([cairn]=0 [ninja]=0 [bazel]=0)
if skipped cairn; then
	cairn_ver="skipped (--skip)"
elif [ -x "$cairn" ] && v=$("$cairn" --version 2>/dev/null); then
	have[cairn]=1
	cairn_ver=$(printf '%s\n' "$v" | sed -n 1p)
else
	cairn_ver="not available ($cairn)"
	log "cairn: $cairn_ver; its cells will read n/a"
fi
if command -v ninja >/dev/null; then
	have[ninja]=1
	ninja_ver="ninja $(ninja --version)"
else
	ninja_ver="ninja: not installed"
fi
# The version as run.sh finds it (Debian's build says no_version).
if skipped bazel; then
	bazel_ver="bazel: skipped (--skip)"
elif command -v bazel >/dev/null; then
	have[bazel]=1
	bazel_ver=$(bazel --version 2>/dev/null | sed -n 1p) || true
	case $bazel_ver in
	"" | *no_version*)
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
worker_ver=$(dpkg-query -W -f '${Version}' bazel-bootstrap-source 2>/dev/null) || worker_ver="?"
worker_ver="RemoteWorker from bazel-bootstrap-source $worker_ver"
remote_worker_build >/dev/null

without=()
[ "${have[bazel]}" = 1 ] || without+=(--without bazel)
skipped cairn && without+=(--without cairn)

# --- measuring ------------------------------------------------------------

run=0   # the run being measured, from 1

# Bytes received on loopback (this namespace's only interface): with
# nothing else running here, what the build and the worker exchanged,
# each byte counted once.
lo_bytes() { awk -F'[: ]+' '$2 == "lo" { print $3 }' /proc/self/net/dev; }

ev_path() { echo "$scratch/logs/$1.$run.events"; }

# broken ROW WHY: ROW reads "failed" from now on.
broken() {
	[ -e "$scratch/data/$1.broken" ] || echo "$2" >"$scratch/data/$1.broken"
}

# timed ROW DIR CHECK CMD...: one timed build of ROW in DIR, run $run.
# CHECK says what a success must show: none; populate (cairn's summary
# counts RPCs); cache or exec (actions served by the remote). Per-run logs
# and --events files are in $scratch/logs; a failure prints the log's tail.
timed() {
	local row=$1 dir=$2 check=$3; shift 3
	local lg="$scratch/logs/$row.$run.log" lo0 lo1 line wall rss status meta="- - - - -"
	local served="" why="" rc rx tot rpcs down rem
	[ -e "$scratch/data/$row.broken" ] && return 0
	lo0=$(lo_bytes)
	line=$("$py" "$here/measure.py" --rss none --log "$lg" -C "$dir" -- "$@")
	lo1=$(lo_bytes)
	read -r wall rss status <<<"$line"
	if [ -z "$status" ]; then
		log "remote.sh: measure.py gave '$line' for $row"
		exit 1
	fi
	local lo=$((lo1 - lo0))
	case $row in
	cairn.*)
		read -r rc rx tot rpcs down <<<"$("$py" "$here/remote_report.py" summary "$(ev_path "$row")")"
		case $check in
		cache) meta="$rc $tot $rpcs $down $lo" served=$rc ;;
		exec) meta="$rx $tot $rpcs $down $lo" served=$rx ;;
		populate) meta="- $tot $rpcs $down $lo" served=$rpcs ;;
		esac ;;
	bazel.*)
		read -r rem tot <<<"$("$py" "$here/remote_report.py" bazel "$lg")"
		case $check in
		cache|exec) meta="$rem $tot - - $lo" served=$rem ;;
		populate) meta="- $tot - - $lo" ;;
		esac ;;
	esac
	if [ "$status" != 0 ]; then
		why="exit $status: $( (grep -v "^[[:space:]]*$" "$lg" || true) | tail -n 1 | cut -c1-200)"
	elif [ -n "$served" ]; then
		case $served in -|0|*[!0-9]*)
			why="nothing came from the remote ($([ "$check" = populate ] && echo "no RPCs" || echo "0 actions served remotely") in the summary; built locally?)" ;;
		esac
	fi
	echo "$wall $rss $status" >>"$scratch/data/$row"
	echo "$meta" >>"$scratch/data/$row.meta"
	log "  $row: ${wall}s, exit $status${served:+, remote: $served}"
	if [ -n "$why" ]; then
		broken "$row" "$why"
		log "  $row failed: $why; it sits out the other runs. Log tail ($lg):"
		tail -n 20 "$lg" | sed 's/^/    | /' >&2
		return 1
	fi
	return 0
}

# untimed ROW DIR CMD...: a step that is not timed (cairn clean, bazel
# clean); its failure breaks ROW.
untimed() {
	local row=$1 dir=$2; shift 2
	local lg="$scratch/logs/$row.$run.log"
	[ -e "$scratch/data/$row.broken" ] && return 1
	if ! (cd "$dir" && "$@") >>"$lg" 2>&1; then
		broken "$row" "'$*' failed"
		log "  $row: '$*' failed. Log tail ($lg):"
		tail -n 20 "$lg" | sed 's/^/    | /' >&2
		return 1
	fi
}

# same A B WHAT: A and B hold the same files (a verdict line for the report).
same() {
	if [ ! -d "$1" ] || [ ! -d "$2" ]; then
		echo "$3: nothing to compare" >>"$scratch/verdict"
	elif diff -r -q -x '.ninja_log' -x '.ninja_deps' "$1" "$2" >"$scratch/diff" 2>&1; then
		echo "$3: same" >>"$scratch/verdict"
	else
		echo "$3: **differ**" >>"$scratch/verdict"
		log "  $3: outputs differ:"
		head -n 10 "$scratch/diff" | sed 's/^/    | /' >&2
		mismatch=1
	fi
}

bazel_bin() { (cd "$1" && bazel_cmd info bazel-bin 2>/dev/null) || true; }

# gen TOOL LxF DIR: a fresh workspace copy with TOOL's build files.
gen() {
	nuke "$3"
	"$py" "$here/gen.py" --tools "$1" "${2%x*}" "${2#*x}" "$3"
}

# Fresh state for a cairn checkout: no outputs, no state, an empty cache.
cairn_reset() { nuke "$1/cairn-out"; nuke "$1/.cairn"; nuke "$2"; }

# --- (a) and (b): remote cache --------------------------------------------

# cairn_argv CACHE JOBS ROW TARGET [FLAG...]: the argv of a cairn build
# into `cmd`, with its --events file.
cairn_argv() {
	local cache=$1 j=$2 row=$3 target=$4; shift 4
	cmd=("$cairn" build --cache-dir "$cache" -j "$j" --events "$(ev_path "$row")" "$@" "$target")
}

# The toplevel rows ask for the binaries alone (//bin:all): with //...
# every rule is a top-level target and every output would be fetched.
# Every action is still needed; only the binaries come down.

cache_section() {
	local t r last
	local n="$scratch/n" c1="$scratch/c1" c2="$scratch/c2" b1="$scratch/b1" b2="$scratch/b2"
	log "cache: $size, writing workspaces"
	[ "${have[ninja]}" = 1 ] && gen ninja "$size" "$n"
	if [ "${have[cairn]}" = 1 ]; then gen cairn "$size" "$c1"; gen cairn "$size" "$c2"; fi
	if [ "${have[bazel]}" = 1 ]; then
		gen bazel "$size" "$b1"; gen bazel "$size" "$b2"
		bazel_ws+=("$b1" "$b2")
	fi
	worker_up
	local url=$REMOTE_WORKER_URL
	run=1
	log "cache: filling the remote cache from checkout 1"
	if [ "${have[cairn]}" = 1 ]; then
		cairn_reset "$c1" "$scratch/cache.c1"
		cairn_argv "$scratch/cache.c1" "$remote_jobs" cairn.populate //... "--remote_cache=$url"
		timed cairn.populate "$c1" populate "${cmd[@]}" || true
	fi
	if [ "${have[bazel]}" = 1 ]; then
		timed bazel.populate "$b1" populate "${bz[@]}" build "--jobs=$remote_jobs" \
			--symlink_prefix=/ "--remote_cache=$url" //... || true
		(cd "$b1" && bazel_cmd shutdown >/dev/null 2>&1) || true
	fi
	[ -e "$scratch/data/cairn.populate.broken" ] &&
		for t in cairn.remote cairn.remote_top; do broken "$t" "the remote cache could not be filled"; done
	[ -e "$scratch/data/bazel.populate.broken" ] &&
		for t in bazel.remote bazel.remote_warm bazel.remote_top; do broken "$t" "the remote cache could not be filled"; done

	for ((r = 1; r <= runs; r++)); do
		run=$r last=$((r == runs))
		log "cache: run $r/$runs"
		if [ "${have[ninja]}" = 1 ]; then
			nuke "$n/ninja-out"
			timed ninja.full "$n" none ninja -j "$jobs" || true
		fi
		if [ "${have[cairn]}" = 1 ]; then
			cairn_reset "$c1" "$scratch/cache.c1"
			cairn_argv "$scratch/cache.c1" "$jobs" cairn.full //...
			if timed cairn.full "$c1" none "${cmd[@]}" &&
				untimed cairn.local "$c1" "$cairn" clean; then
				cairn_argv "$scratch/cache.c1" "$jobs" cairn.local //...
				timed cairn.local "$c1" none "${cmd[@]}" &&
					[ "$last" = 1 ] && same "$n/ninja-out" "$c1/cairn-out" "cairn, local-cache rebuild"
			fi
		fi
		# cairn and Bazel from the remote take turns going first.
		for t in $( ((r % 2)) && echo cairn bazel || echo bazel cairn); do
			[ "${have[$t]}" = 1 ] || continue
			case $t in
			cairn)
				cairn_reset "$c2" "$scratch/cache.c2"
				cairn_argv "$scratch/cache.c2" "$remote_jobs" cairn.remote //... "--remote_cache=$url"
				timed cairn.remote "$c2" cache "${cmd[@]}" && [ "$last" = 1 ] &&
					same "$n/ninja-out" "$c2/cairn-out" "cairn, fresh checkout, remote cache"
				cairn_reset "$c2" "$scratch/cache.c2"
				cairn_argv "$scratch/cache.c2" "$remote_jobs" cairn.remote_top //bin:all \
					"--remote_cache=$url" --remote_download=toplevel
				timed cairn.remote_top "$c2" cache "${cmd[@]}" && [ "$last" = 1 ] &&
					same "$n/ninja-out/bin" "$c2/cairn-out/bin" "cairn, fresh checkout, toplevel (bin/)"
				;;
			bazel)
				untimed bazel.remote "$b2" bazel_cmd clean --expunge &&
					timed bazel.remote "$b2" cache "${bz[@]}" build "--jobs=$remote_jobs" \
						--symlink_prefix=/ "--remote_cache=$url" //... && [ "$last" = 1 ] &&
					same "$n/ninja-out" "$(bazel_bin "$b2")" "Bazel, fresh checkout, remote cache"
				# The same, its server warm: what a Bazel user sees after
				# `bazel clean` (not a fresh checkout; for context).
				untimed bazel.remote_warm "$b2" bazel_cmd clean &&
					timed bazel.remote_warm "$b2" cache "${bz[@]}" build "--jobs=$remote_jobs" \
						--symlink_prefix=/ "--remote_cache=$url" //...
				untimed bazel.remote_top "$b2" bazel_cmd clean --expunge &&
					timed bazel.remote_top "$b2" cache "${bz[@]}" build "--jobs=$remote_jobs" \
						--symlink_prefix=/ "--remote_cache=$url" --remote_download_toplevel //bin:all &&
					[ "$last" = 1 ] &&
					same "$n/ninja-out/bin" "$(bazel_bin "$b2")/bin" "Bazel, fresh checkout, toplevel (bin/)"
				;;
			esac
		done
	done
	bazel_down
	worker_down
	return 0
}

# --- (c): remote execution ------------------------------------------------

exec_section() {
	local t r last n="$scratch/xn" c="$scratch/xc" b="$scratch/xb"
	log "exec: $exec_size, writing workspaces"
	[ "${have[ninja]}" = 1 ] && gen ninja "$exec_size" "$n"
	[ "${have[cairn]}" = 1 ] && gen cairn "$exec_size" "$c"
	if [ "${have[bazel]}" = 1 ]; then gen bazel "$exec_size" "$b"; bazel_ws+=("$b"); fi
	for ((r = 1; r <= runs; r++)); do
		run=$r last=$((r == runs))
		log "exec: run $r/$runs"
		if [ "${have[ninja]}" = 1 ]; then
			nuke "$n/ninja-out"
			timed ninja.xfull "$n" none ninja -j "$jobs" || true
		fi
		if [ "${have[cairn]}" = 1 ]; then
			cairn_reset "$c" "$scratch/cache.xc"
			cairn_argv "$scratch/cache.xc" "$jobs" cairn.xfull //...
			timed cairn.xfull "$c" none "${cmd[@]}" || true
		fi
		# Each remote build gets a new worker: nothing is cached.
		for t in $( ((r % 2)) && echo cairn bazel || echo bazel cairn); do
			[ "${have[$t]}" = 1 ] || continue
			[ -e "$scratch/data/$t.rexec.broken" ] && continue
			worker_up
			case $t in
			cairn)
				cairn_reset "$c" "$scratch/cache.xc"
				cairn_argv "$scratch/cache.xc" "$remote_jobs" cairn.rexec //... "--remote_executor=$REMOTE_WORKER_URL"
				timed cairn.rexec "$c" exec "${cmd[@]}" && [ "$last" = 1 ] &&
					same "$n/ninja-out" "$c/cairn-out" "cairn, remote execution"
				;;
			bazel)
				untimed bazel.rexec "$b" bazel_cmd clean --expunge &&
					timed bazel.rexec "$b" exec "${bz[@]}" build "--jobs=$remote_jobs" \
						--symlink_prefix=/ "--remote_executor=$REMOTE_WORKER_URL" //... &&
					[ "$last" = 1 ] &&
					same "$n/ninja-out" "$(bazel_bin "$b")" "Bazel, remote execution"
				;;
			esac
			worker_down
		done
	done
	bazel_down
	return 0
}

# --- report ---------------------------------------------------------------

actions() { local l=${1%x*} f=${1#*x}; echo $((l * f + l + (l + 9) / 10)); }

verdict() {
	if [ -s "$scratch/verdict" ]; then
		echo "Outputs compared with ninja's (last run): $(sed 's/$/;/' "$scratch/verdict" | tr '\n' ' ' | sed 's/; $/./')"
	else
		echo "Outputs compared with ninja's: nothing to compare."
	fi
}

cpu=$(sed -n '/^model name/{s/^[^:]*:[[:space:]]*//p;q;}' /proc/cpuinfo 2>/dev/null || true)
bazel_note=""
[ "${have[bazel]}" = 1 ] && bazel_note="- Bazel: each fresh-checkout and remote-execution build starts a new server (after \`clean --expunge\`), as a fresh checkout would; no flags beyond the remote one (and \`--jobs\`, \`--symlink_prefix=/\`) are needed to talk to RemoteWorker
"
header="# cairn benchmark: remote cache and remote execution

- machine: $(nproc) CPUs, ${cpu:-unknown CPU}, Linux $(uname -r)
- tools: cairn: $cairn_ver; $ninja_ver; $bazel_ver; $worker_ver
- settings: local builds -j $jobs, builds that use the remote -j $remote_jobs; $runs run(s) per cell, median (min–max); all traffic on loopback, in a network namespace of its own
- date: $(date -u +%Y-%m-%dT%H:%MZ)
${bazel_note}"
printf '%s' "$header"
body="$header"
mismatch=0
mkdir -p "$scratch/logs" "$scratch/data"

if ! skipped cache; then
	: >"$scratch/verdict"
	cache_section
	section="
## Remote cache: $size, $(actions "$size") actions

Checkout 1 fills the remote cache; checkout 2 is a second copy of the
workspace with no outputs, no state and an empty local cache.

$("$py" "$here/remote_report.py" table "$scratch/data" cache ${without[@]+"${without[@]}"})

$(verdict)
"
	printf '%s' "$section"
	body+="$section"
fi

if ! skipped exec; then
	: >"$scratch/verdict"
	exec_section
	section="
## Remote execution: $exec_size, $(actions "$exec_size") actions

Each remote build talks to a new RemoteWorker (empty CAS and action
cache), with an empty local cache.

$("$py" "$here/remote_report.py" table "$scratch/data" exec ${without[@]+"${without[@]}"})

$(verdict)
"
	printf '%s' "$section"
	body+="$section"
fi

failed=$(cd "$scratch/data" && for f in *.broken; do [ -e "$f" ] && echo "- ${f%.broken}: $(cat "$f")"; done) || true
if [ -n "$failed" ]; then
	section="
Failed rows:

$failed
"
	printf '%s' "$section"
	body+="$section"
fi

write_report "$out" "$body"
if [ "$mismatch" = 1 ]; then
	log "remote.sh: outputs differ from ninja's (see above): a graph or a tool is wrong"
	exit 1
fi
exit 0
}
