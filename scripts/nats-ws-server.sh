# shellcheck shell=bash
# Sourced by browser-test.sh and web-demo.sh: starts nats-server ($NATS_SERVER) on free
# local ports with a plain WebSocket listener (`websocket { no_tls: true }`), from a config
# file in $1 (a scratch directory). Sets WS_PORT, WS_URL and WS_SERVER_PID; the caller
# stops the server (kill "$WS_SERVER_PID").

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

start_ws_server() {
    local dir="$1"
    WS_PORT="$(free_port)"
    WS_URL="ws://127.0.0.1:$WS_PORT"
    cat >"$dir/nats-server.conf" <<CONF
listen: "127.0.0.1:-1"
websocket {
    host: "127.0.0.1"
    port: $WS_PORT
    no_tls: true
}
CONF
    "$NATS_SERVER" -c "$dir/nats-server.conf" >"$dir/nats-server.log" 2>&1 &
    WS_SERVER_PID=$!
    local i
    for i in $(seq 1 100); do
        if grep -q "Server is ready" "$dir/nats-server.log" 2>/dev/null &&
            (exec 3<>"/dev/tcp/127.0.0.1/$WS_PORT") 2>/dev/null; then
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
