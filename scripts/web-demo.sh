#!/usr/bin/env bash
# The example web page (nats-web/examples/page): builds its wasm app (profile
# wasm-release) and binds it with `wasm-bindgen --target web` (and measures wasm-opt -Oz),
# starts nats-server with a WebSocket listener and a static file server (python3
# http.server) on free local ports, and prints the page's URL. Ctrl-C stops both.
#
#   scripts/web-demo.sh                    serve until Ctrl-C
#   scripts/web-demo.sh --screenshot FILE  load the page in headless Chromium, save a
#                                          screenshot once it has run, then stop
#   scripts/web-demo.sh --size             build only, print the bundle's size
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
root="$(pwd)"

mode="serve"
shot=""
case "${1:-}" in
    --screenshot) mode="screenshot"; shot="$(realpath -m "${2:?--screenshot needs a file}")" ;;
    --size) mode="size" ;;
    "") ;;
    *) echo "usage: $0 [--screenshot FILE | --size]" >&2; exit 2 ;;
esac

scripts/ensure-nats-server.sh >/dev/null
scripts/ensure-browser-tools.sh >/dev/null
# shellcheck source=/dev/null
. .tools/nats-env
# shellcheck source=/dev/null
. .tools/browser-env
# shellcheck source=scripts/nats-ws-server.sh
. scripts/nats-ws-server.sh

site="$root/target/web-demo"
rm -rf "$site"
mkdir -p "$site/pkg"
cargo build -q -p nats-web --example page --target wasm32-unknown-unknown --profile wasm-release
"$WASM_BINDGEN_DIR/wasm-bindgen" --target web --no-typescript --out-dir "$site/pkg" --out-name page \
    target/wasm32-unknown-unknown/wasm-release/examples/page.wasm
raw_size="$(stat -c %s "$site/pkg/page_bg.wasm")"
raw_gz="$(gzip -9 -c "$site/pkg/page_bg.wasm" | wc -c)"
opt_note=""
if [ -n "${WASM_OPT:-}" ]; then
    # Measured only: Debian's wasm-opt (version 108) breaks wasm-bindgen's externref table
    # (the module then fails to start), so the page serves wasm-bindgen's output as is.
    "$WASM_OPT" -Oz --enable-reference-types --enable-bulk-memory --enable-nontrapping-float-to-int \
        --enable-sign-ext --enable-mutable-globals -o "$site/page_bg.opt.wasm" "$site/pkg/page_bg.wasm"
    opt_note=", wasm-opt -Oz: $(stat -c %s "$site/page_bg.opt.wasm") bytes, $(gzip -9 -c "$site/page_bg.opt.wasm" | wc -c) gzipped (not served)"
    rm -f "$site/page_bg.opt.wasm"
fi
cp nats-web/examples/page/index.html "$site/"
js="$(stat -c %s "$site/pkg/page.js")"
js_gz="$(gzip -9 -c "$site/pkg/page.js" | wc -c)"
echo "bundle: page_bg.wasm $raw_size bytes, $raw_gz gzipped; page.js $js bytes, $js_gz gzipped$opt_note"
if [ "$mode" = "size" ]; then
    exit 0
fi

workdir="$(mktemp -d)"
WS_SERVER_PID=""
http_pid=""
cleanup() {
    for pid in "$http_pid" "$WS_SERVER_PID"; do
        if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
            kill "$pid" 2>/dev/null || true
            wait "$pid" 2>/dev/null || true
        fi
    done
    rm -rf "$workdir"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

start_ws_server "$workdir"
start_http_server "$site" "$workdir"
page="http://127.0.0.1:$http_port/?server=$WS_URL"

if [ "$mode" = "screenshot" ]; then
    # Through chromedriver: load the page, wait until its status reads "ok" (connected,
    # subscribed, published, received, requested, drained), then take the picture.
    CHROMIUM="$CHROMIUM" CHROMEDRIVER="$CHROMEDRIVER" PROFILE_DIR="$workdir/chromium-profile" \
        python3 scripts/page-screenshot.py "$page" "$shot" --wait-id status --wait-text ok
    echo "screenshot of $page saved to $shot"
    exit 0
fi

echo "nats-server $("$NATS_SERVER" --version) with a WebSocket listener at $WS_URL"
echo "open $page"
echo "(Ctrl-C stops the servers)"
wait "$http_pid"
