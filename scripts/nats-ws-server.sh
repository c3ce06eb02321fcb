# shellcheck shell=bash
# Sourced by web-demo.sh and browser-bench.sh: starts nats-server ($NATS_SERVER) on local
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

# Serves the directory $1 over HTTP (python3 http.server) on a free local port, logging to
# $2/http.log. Sets http_port and http_pid; the caller stops it (kill "$http_pid").
start_http_server() {
    local site="$1" dir="$2"
    # Port 0: the server picks a free port, read back from its "Serving HTTP on ... port N".
    : >"$dir/http.log"
    python3 -u -m http.server 0 --bind 127.0.0.1 --directory "$site" >"$dir/http.log" 2>&1 &
    http_pid=$!
    http_port=""

    for _ in $(seq 1 100); do
        http_port="$(sed -n 's/.* port \([0-9][0-9]*\).*/\1/p' "$dir/http.log" | head -n1)"
        [ -n "$http_port" ] && (exec 3<>"/dev/tcp/127.0.0.1/$http_port") 2>/dev/null && return 0
        http_port=""
        sleep 0.1
    done
    echo "error: the HTTP server did not start:" >&2
    cat "$dir/http.log" >&2
    return 1
}
