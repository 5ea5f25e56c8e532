#!/bin/sh
# Provider `read` of //web:web: print the release the stage's server runs,
# or nothing when no server of the stage runs.
set -eu
. "$(dirname "$0")/lib.sh"

live_pid > /dev/null || exit 0
cat "$relfile" 2>/dev/null || true
