#!/usr/bin/env bash
# The long chaos run: a three-node JetStream cluster of the pinned nats-server,
# concurrent publishers, a durable and an ordered consumer, and a nemesis killing, pausing
# and lame-ducking nodes for N minutes; then the checker's table and verdict.
#
#   scripts/chaos.sh [--minutes N]     (default 10)
#
# The output (table included) is also written to target/chaos-<minutes>min.txt.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

minutes=10
while [ $# -gt 0 ]; do
    case "$1" in
        --minutes) minutes="$2"; shift 2 ;;
        --minutes=*) minutes="${1#--minutes=}"; shift ;;
        -h|--help) sed -n '2,8p' "$0"; exit 0 ;;
        *) echo "unknown argument: $1" >&2; exit 2 ;;
    esac
done
case "$minutes" in
    ''|*[!0-9]*) echo "--minutes takes a whole number" >&2; exit 2 ;;
esac

scripts/ensure-nats-server.sh
# shellcheck source=/dev/null
. .tools/nats-env
export NATS_SERVER

mkdir -p target
out="target/chaos-${minutes}min.txt"
CHAOS_MINUTES="$minutes" cargo test -p nats-integration-tests --test integration chaos::long_run -- \
    --ignored --nocapture 2>&1 | tee "$out"
echo "output: $out"
