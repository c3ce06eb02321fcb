# shellcheck shell=bash
# Sourced by browser-test.sh and web-demo.sh: starts nats-server ($NATS_SERVER) on local
# ports it picks itself, with a plain WebSocket listener (`websocket { no_tls: true }`)
# and JetStream (stored in $1/js), from a config file in $1 (a scratch directory). Sets WS_PORT, WS_URL and WS_SERVER_PID;
# the caller stops the server (kill "$WS_SERVER_PID").

start_ws_server() {
    local dir="$1"
    # `port: -1`: the server picks a free port (no race between choosing and binding it),
    # read back from its log line "Listening for websocket clients on ws://127.0.0.1:N".
    cat >"$dir/nats-server.conf" <<CONF
listen: "127.0.0.1:-1"
jetstream { store_dir: "$dir/js" }
websocket {
    host: "127.0.0.1"
    port: -1
    no_tls: true
}
CONF
    : >"$dir/nats-server.log"
    "$NATS_SERVER" -c "$dir/nats-server.conf" >"$dir/nats-server.log" 2>&1 &
    WS_SERVER_PID=$!
    local i
    for i in $(seq 1 300); do # up to 30 s
        WS_PORT="$(sed -n 's/.*websocket clients on [^ ]*:\([0-9][0-9]*\).*/\1/p' "$dir/nats-server.log" | head -n1)"
        if [ -n "$WS_PORT" ] && grep -q "Server is ready" "$dir/nats-server.log" &&
            (exec 3<>"/dev/tcp/127.0.0.1/$WS_PORT") 2>/dev/null; then
            WS_URL="ws://127.0.0.1:$WS_PORT"
            return 0
        fi
        if ! kill -0 "$WS_SERVER_PID" 2>/dev/null; then
            break
        fi
        sleep 0.1
    done
    echo "error: nats-server with a WebSocket listener did not start:" >&2
    cat "$dir/nats-server.log" >&2
    return 1
}
