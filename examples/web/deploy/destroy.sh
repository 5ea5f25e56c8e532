#!/bin/sh
# Provider `destroy` of //web:web: stop the stage's server and forget its
# release (its log stays).
set -eu
. "$(dirname "$0")/lib.sh"

stop_server
rm -f "$pidfile" "$relfile"
