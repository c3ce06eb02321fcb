#!/usr/bin/env bash
# Starts a throwaway nats-server on a free local port, runs against it the nats-proto std
# example (connect, subscribe, publish, check every message comes back) and the async
# client's tokio example (nats-tokio/examples/basic.rs: nats.py's "Basic Usage"), stops
# the server, and fails if either example failed.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

scripts/ensure-nats-server.sh
. .tools/nats-env
server="$NATS_SERVER"

workdir="$(mktemp -d)"
log="$workdir/nats-server.log"
server_pid=""
cleanup() {
    if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
        kill "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    rm -rf "$workdir"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Build first, so the server does not sit idle through a compile.
cargo build -q -p nats-proto --example pubsub_std
cargo build -q -p nats-tokio --example basic

# `-p -1` lets the server pick a free port (no race between choosing and binding it); the
# port is read back from the log line "Listening for client connections on 127.0.0.1:N".
: >"$log" # exists before the poll below reads it (the background redirect may be late)
"$server" -a 127.0.0.1 -p -1 >"$log" 2>&1 &
server_pid=$!

port=""
for _ in $(seq 1 100); do # up to 10 s
    port="$(sed -n 's/.*client connections on [^ ]*:\([0-9][0-9]*\).*/\1/p' "$log" | head -n1)"
    if [ -n "$port" ] && (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
        break
    fi
    port=""
    if ! kill -0 "$server_pid" 2>/dev/null; then
        echo "error: nats-server exited during startup:" >&2
        cat "$log" >&2
        exit 1
    fi
    sleep 0.1
done
if [ -z "$port" ]; then
    echo "error: nats-server did not accept connections within 10 s:" >&2
    cat "$log" >&2
    exit 1
fi
echo "nats-server listening on 127.0.0.1:$port (pid $server_pid)"

# Both run even when the first fails; the script fails if either did.
export NATS_URL="nats://127.0.0.1:$port"
failed=()
echo "== nats-proto: pubsub_std (blocking std::net driver)"
cargo run -q -p nats-proto --example pubsub_std || failed+=("nats-proto pubsub_std (exit $?)")
echo "== nats-tokio: basic (async client on tokio)"
cargo run -q -p nats-tokio --example basic || failed+=("nats-tokio basic (exit $?)")
if [ "${#failed[@]}" -ne 0 ]; then
    printf 'error: example failed: %s\n' "${failed[@]}" >&2
    exit 1
fi
echo "demo passed: both examples ran against nats-server on port $port"
