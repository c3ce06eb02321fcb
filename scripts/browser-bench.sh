#!/usr/bin/env bash
# nats-web against nats.js in the same headless Chromium, against the same nats-server
# (WebSocket), in one run: request round trips (p50, p99) and publish rate, in alternating
# rounds (nats-web/examples/bench: a Rust half built for wasm32 and the page's JS half).
# nats.js is its current release from the npm registry (@nats-io/nats-core, bundled for the
# page with esbuild), installed into .tools/natsjs.
#
#   scripts/browser-bench.sh [--rounds N] [--requests N] [--messages N] [--size BYTES]
#
# Prints the page's log, then the results as JSON and a summary with the ratios.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
root="$(pwd)"

rounds=5 requests=2000 messages=100000 size=128
while [ $# -gt 0 ]; do
    case "$1" in
        --rounds) rounds="$2"; shift 2 ;;
        --requests) requests="$2"; shift 2 ;;
        --messages) messages="$2"; shift 2 ;;
        --size) size="$2"; shift 2 ;;
        *) echo "usage: $0 [--rounds N] [--requests N] [--messages N] [--size BYTES]" >&2; exit 2 ;;
    esac
done

natsjs_version="${NATSJS_VERSION:-3.4.0}"
esbuild_version="${ESBUILD_VERSION:-0.28.2}"

scripts/ensure-nats-server.sh >/dev/null
scripts/ensure-browser-tools.sh >/dev/null
# shellcheck source=/dev/null
. .tools/nats-env
# shellcheck source=/dev/null
. .tools/browser-env
# shellcheck source=scripts/nats-ws-server.sh
. scripts/nats-ws-server.sh

# nats.js from the npm registry, bundled as one ES module for the page.
natsjs="$root/.tools/natsjs"
if [ ! -f "$natsjs/node_modules/@nats-io/nats-core/package.json" ] ||
    ! grep -q "\"version\": \"$natsjs_version\"" "$natsjs/node_modules/@nats-io/nats-core/package.json"; then
    echo "installing @nats-io/nats-core $natsjs_version and esbuild $esbuild_version into $natsjs"
    mkdir -p "$natsjs"
    (cd "$natsjs" && npm install --silent --no-audit --no-fund \
        "@nats-io/nats-core@$natsjs_version" "esbuild@$esbuild_version")
fi

site="$root/target/browser-bench"
rm -rf "$site"
mkdir -p "$site/pkg"
echo 'export { wsconnect } from "@nats-io/nats-core";' >"$natsjs/entry.js"
(cd "$natsjs" && node_modules/.bin/esbuild entry.js --bundle --format=esm --minify --log-level=warning \
    --outfile="$site/natsjs.js")
cargo build -q -p nats-web --example bench --target wasm32-unknown-unknown --profile wasm-release
"$WASM_BINDGEN_DIR/wasm-bindgen" --target web --no-typescript --out-dir "$site/pkg" --out-name bench \
    target/wasm32-unknown-unknown/wasm-release/examples/bench.wasm
cp nats-web/examples/bench/index.html "$site/"

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
page="http://127.0.0.1:$http_port/?server=$WS_URL&rounds=$rounds&requests=$requests&messages=$messages&size=$size"
echo "nats-server $("$NATS_SERVER" --version); chromium $("$CHROMIUM" --version 2>/dev/null | awk '{print $2}'); nats.js @nats-io/nats-core $natsjs_version"
echo "$rounds rounds of $requests requests and $messages publishes of $size bytes per client"

results="$(CHROMIUM="$CHROMIUM" CHROMEDRIVER="$CHROMEDRIVER" PROFILE_DIR="$workdir/chromium-profile" \
    python3 scripts/page-screenshot.py "$page" "$workdir/bench.png" --wait-id status --wait-text done \
    --timeout 1800 --print-id results)"
echo "$results"
python3 - "$results" <<'PY'
import json, sys
r = json.loads(sys.argv[1])
web, js = r["median"]["nats-web"], r["median"]["nats.js"]
print(f"request p50: nats-web {web['p50_ms']:.3f} ms, nats.js {js['p50_ms']:.3f} ms "
      f"(nats-web takes {web['p50_ms'] / js['p50_ms']:.2f}x nats.js' time)")
print(f"request mean: nats-web {web['mean_ms']:.3f} ms, nats.js {js['mean_ms']:.3f} ms "
      f"(nats-web takes {web['mean_ms'] / js['mean_ms']:.2f}x nats.js' time)")
print(f"request p99: nats-web {web['p99_ms']:.3f} ms, nats.js {js['p99_ms']:.3f} ms")
print(f"publish: nats-web {web['publish_per_s']:,.0f} msgs/s, nats.js {js['publish_per_s']:,.0f} msgs/s "
      f"(nats-web at {web['publish_per_s'] / js['publish_per_s']:.2f}x nats.js' rate)")
PY
