#!/bin/sh
# The binary named by $1 greets whoever it is told to.
out=$("$1" tester)
[ "$out" = "hello, tester!" ] || { echo "got: $out"; exit 1; }
echo "ok"
