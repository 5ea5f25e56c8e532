#!/bin/bash
# bench/serve_page.sh: cairn serve's status page in a real headless
# browser (Debian's chromium): a server with a little traffic (a remote
# build executed on it, then a cache hit), its page rendered and saved as
# a screenshot, and its text checked (the DOM chromium built, so the page
# must parse as HTML without a script).
#
#   bench/serve_page.sh [--out FILE.png]     (default bench/serve-status.png)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
out=$here/serve-status.png
[ "${1:-}" != --out ] || out=$2
command -v chromium >/dev/null || { echo "serve_page.sh: needs chromium (apt-get install chromium)" >&2; exit 2; }
make -s -C "$root" cairn
scratch=$(mktemp -d "${TMPDIR:-/tmp}/cairn-serve-page.XXXXXX")
server=
cleanup() { [ -z "$server" ] || kill "$server" 2>/dev/null || true; rm -rf "$scratch"; }
trap cleanup EXIT
"$root/cairn" serve --listen 127.0.0.1:0 --metrics 127.0.0.1:0 --workers 1:2 --max-size 1G \
	--store "$scratch/store" > "$scratch/serve.log" 2>&1 &
server=$!
for _ in $(seq 100); do grep -q "metrics and status" "$scratch/serve.log" && break; sleep 0.05; done
port=$(sed -n 's/^cairn: serving .* on 127.0.0.1:\([0-9]*\)$/\1/p' "$scratch/serve.log")
mport=$(sed -n 's|.*http://127.0.0.1:\([0-9]*\)/.*|\1|p' "$scratch/serve.log")
mkdir -p "$scratch/ws/a"
: > "$scratch/ws/WORKSPACE.lua"
echo 'genrule { name = "g", outs = { "g.txt" }, cmd = "echo page > $@" }' > "$scratch/ws/a/BUILD.lua"
(cd "$scratch/ws" && XDG_CACHE_HOME=$scratch/c1 "$root/cairn" build --remote_executor="grpc://127.0.0.1:$port" >/dev/null)
(cd "$scratch/ws" && rm -rf .cairn cairn-out && XDG_CACHE_HOME=$scratch/c2 "$root/cairn" build --remote_executor="grpc://127.0.0.1:$port" >/dev/null)
flags=(--headless --no-sandbox --disable-gpu --no-first-run --user-data-dir="$scratch/chromium")
chromium "${flags[@]}" --window-size=1000,900 --screenshot="$out" "http://127.0.0.1:$mport/" >/dev/null 2>&1
chromium "${flags[@]}" --dump-dom "http://127.0.0.1:$mport/" > "$scratch/dom.html" 2>/dev/null
for want in "<h1>cairn serve</h1>" "Queue and workers" "Execution/Execute" "action cache" "Last calls"; do
	grep -qF "$want" "$scratch/dom.html" || { echo "serve_page.sh: the page lacks: $want" >&2; exit 1; }
done
if grep -qi "<script" "$scratch/dom.html"; then echo "serve_page.sh: the page has a script" >&2; exit 1; fi
[ -s "$out" ] || { echo "serve_page.sh: no screenshot" >&2; exit 1; }
echo "serve_page.sh: the page renders in chromium; screenshot in $out ($(stat -c %s "$out") bytes)"
