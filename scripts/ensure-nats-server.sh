#!/usr/bin/env bash
# Makes sure `nats-server` is installed, installing the Debian/Ubuntu package with apt-get
# when it is missing, then prints its path and version. Idempotent.
set -euo pipefail

find_server() {
    if command -v nats-server 2>/dev/null; then
        return 0
    elif [ -x /usr/sbin/nats-server ]; then
        echo /usr/sbin/nats-server
    else
        return 1
    fi
}

# Runs a command as root: directly when root, through sudo otherwise.
as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        echo "error: installing nats-server needs root, and sudo is missing" >&2
        exit 1
    fi
}

if ! server="$(find_server)"; then
    echo "nats-server not found: installing it with apt-get"
    if ! command -v apt-get >/dev/null 2>&1; then
        echo "error: apt-get is not available; install nats-server (https://nats.io) and retry" >&2
        exit 1
    fi
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nats-server
    server="$(find_server)" || {
        echo "error: nats-server is still missing after apt-get install" >&2
        exit 1
    }
fi

echo "nats-server: $server ($("$server" --version))"
