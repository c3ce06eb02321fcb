#!/usr/bin/env bash
# Starts a throwaway nats-server on a free local port, runs the nats-proto std example
# against it (connect, subscribe, publish, check every message comes back), stops the
# server, and exits with the example's status.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

scripts/ensure-nats-server.sh
server="$(command -v nats-server || echo /usr/sbin/nats-server)"

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

status=0
NATS_URL="nats://127.0.0.1:$port" cargo run -q -p nats-proto --example pubsub_std || status=$?
exit "$status"
