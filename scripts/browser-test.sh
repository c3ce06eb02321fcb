#!/usr/bin/env bash
# The browser adapter's tests (nats-web/tests/browser.rs) in headless Chromium against a
# real nats-server: starts nats-server 2.15.1 with JetStream and a WebSocket listener on a
# free port, with its control helper (scripts/browser-server.py: restarts the server and
# calls a page's service from nats-py when the page asks), builds the tests for wasm32
# with the URL (NATS_WS_URL, read at compile time), runs them
# with wasm-bindgen's test runner driving Debian's Chromium through chromedriver, and
# stops the server. Installs the tools when missing (scripts/ensure-browser-tools.sh).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
root="$(pwd)"

scripts/ensure-nats-server.sh >/dev/null
scripts/ensure-browser-tools.sh
# shellcheck source=/dev/null
. .tools/nats-env
# shellcheck source=/dev/null
. .tools/browser-env

workdir="$(mktemp -d)"
WS_SERVER_PID=""
cleanup() {
    if [ -n "$WS_SERVER_PID" ] && kill -0 "$WS_SERVER_PID" 2>/dev/null; then
        kill "$WS_SERVER_PID" 2>/dev/null || true
        wait "$WS_SERVER_PID" 2>/dev/null || true
    fi
    rm -rf "$workdir"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Chromium's options for wasm-bindgen-test-runner (it adds headless, no-sandbox and
# disable-dev-shm-usage itself): a fresh profile, and nothing that reaches the network.
cat >"$workdir/webdriver.json" <<JSON
{
  "goog:chromeOptions": {
    "binary": "$CHROMIUM",
    "args": [
      "--headless=new",
      "--no-sandbox",
      "--disable-gpu",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--user-data-dir=$workdir/chromium-profile"
    ]
  }
}
JSON

"$NATS_PYTHON" scripts/browser-server.py "$NATS_SERVER" "$workdir" &
WS_SERVER_PID=$!
for _ in $(seq 1 600); do # up to 60 s
    [ -f "$workdir/ws-url" ] && break
    kill -0 "$WS_SERVER_PID" 2>/dev/null || break
    sleep 0.1
done
if [ ! -f "$workdir/ws-url" ]; then
    echo "error: scripts/browser-server.py did not start the server" >&2
    exit 1
fi
WS_URL="$(cat "$workdir/ws-url")"
echo "nats-server $("$NATS_SERVER" --version) with JetStream and a WebSocket listener at $WS_URL"

export NATS_WS_URL="$WS_URL"
export CHROMEDRIVER
export WASM_BINDGEN_TEST_WEBDRIVER_JSON="$workdir/webdriver.json"
export WASM_BINDGEN_TEST_TIMEOUT="${WASM_BINDGEN_TEST_TIMEOUT:-60}"
export CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER="$WASM_BINDGEN_DIR/wasm-bindgen-test-runner"
cargo test -p nats-web --target wasm32-unknown-unknown --test browser
