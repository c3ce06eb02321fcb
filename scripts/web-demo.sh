#!/usr/bin/env bash
# The example web page (nats-web/examples/page): builds its wasm app (profile
# wasm-release) and binds it with `wasm-bindgen --target web`, shrinks it with wasm-opt,
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
if [ -n "${WASM_OPT:-}" ]; then
    "$WASM_OPT" -Oz --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext \
        --enable-mutable-globals -o "$site/pkg/page_bg.opt.wasm" "$site/pkg/page_bg.wasm"
    mv "$site/pkg/page_bg.opt.wasm" "$site/pkg/page_bg.wasm"
fi
cp nats-web/examples/page/index.html "$site/"
size="$(stat -c %s "$site/pkg/page_bg.wasm")"
gz="$(gzip -9 -c "$site/pkg/page_bg.wasm" | wc -c)"
js="$(stat -c %s "$site/pkg/page.js")"
js_gz="$(gzip -9 -c "$site/pkg/page.js" | wc -c)"
echo "bundle: page_bg.wasm $raw_size bytes from wasm-bindgen, $size after wasm-opt -Oz, $gz gzipped; page.js $js bytes, $js_gz gzipped"
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
http_port="$(free_port)"
python3 -m http.server "$http_port" --bind 127.0.0.1 --directory "$site" >"$workdir/http.log" 2>&1 &
http_pid=$!
for _ in $(seq 1 50); do
    (exec 3<>"/dev/tcp/127.0.0.1/$http_port") 2>/dev/null && break
    sleep 0.1
done
page="http://127.0.0.1:$http_port/?server=$WS_URL"

if [ "$mode" = "screenshot" ]; then
    # The page connects, subscribes, publishes and requests, then its status reads "ok";
    # the virtual time budget lets it run to the end before the picture is taken.
    "$CHROMIUM" --headless=new --no-sandbox --disable-gpu --no-first-run \
        --disable-background-networking --disable-component-update --disable-sync \
        --user-data-dir="$workdir/chromium-profile" --hide-scrollbars \
        --window-size=1100,620 --virtual-time-budget=10000 --run-all-compositor-stages-before-draw \
        --screenshot="$shot" "$page" 2>"$workdir/chromium.log" || {
        cat "$workdir/chromium.log" >&2
        exit 1
    }
    echo "screenshot of $page saved to $shot"
    exit 0
fi

echo "nats-server $("$NATS_SERVER" --version) with a WebSocket listener at $WS_URL"
echo "open $page"
echo "(Ctrl-C stops the servers)"
wait "$http_pid"
