#!/bin/sh
# netns.sh CMD [ARG...]: run CMD in a new, private network namespace whose
# only interface is lo, up; CAIRN_NETNS names the namespace for the helpers
# in lib.sh. Root uses unshare -n; anyone else also a user namespace (-r).
# CMD replaces this script (same pid), so whoever waits on it waits on CMD.
set -e
[ $# -gt 0 ] || { echo "usage: netns.sh CMD [ARG...]" >&2; exit 2; }
if [ "${1:-}" = --inside ]; then
	shift
	ip link set lo up
	CAIRN_NETNS=$(readlink /proc/self/ns/net)
	export CAIRN_NETNS
	exec "$@"
fi
for c in unshare ip; do
	command -v "$c" >/dev/null 2>&1 || { echo "netns.sh: missing $c: run scripts/deps-remote.sh" >&2; exit 1; }
done
r=""; [ "$(id -u)" -eq 0 ] || r=-r
exec unshare $r -n -- "$0" --inside "$@"
