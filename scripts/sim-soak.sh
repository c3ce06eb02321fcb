#!/usr/bin/env bash
# The long simulation run: seeds of both workloads (core NATS and JetStream) under
# seeded faults, in batches, in a release build, for as long as asked; each seed twice
# (the same trace hash). Stops at the first failing seed and prints the command that
# replays it.
#
#   scripts/sim-soak.sh [--hours H | --minutes M] [--first N] [--batch B]
#
# Defaults: 1 hour, seeds from 1,000,000 (the ones `cargo test` runs are below that),
# 2,000 seeds per batch and workload. The batches' summaries go to target/sim-soak.txt.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

minutes=60
first=1000000
batch=2000
while [ $# -gt 0 ]; do
    case "$1" in
        --hours) minutes=$(( $2 * 60 )); shift 2 ;;
        --minutes) minutes="$2"; shift 2 ;;
        --first) first="$2"; shift 2 ;;
        --batch) batch="$2"; shift 2 ;;
        -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
        *) echo "unknown argument: $1" >&2; exit 2 ;;
    esac
done
for value in "$minutes" "$first" "$batch"; do
    case "$value" in
        ''|*[!0-9]*) echo "--hours, --minutes, --first and --batch take whole numbers" >&2; exit 2 ;;
    esac
done

mkdir -p target
log=target/sim-soak.txt
: > "$log"
cargo test --release -p nats-sim --test seeds --no-run
end=$(( $(date +%s) + minutes * 60 ))
seeds=0
while [ "$(date +%s)" -lt "$end" ]; do
    for test in core_seeds jetstream_seeds; do
        # A failing seed panics with its replay command (add --release to it to replay
        # this build); the output is kept whole.
        if ! NATS_SIM_FIRST="$first" NATS_SIM_SEEDS="$batch" \
            cargo test --release -q -p nats-sim --test seeds "$test" -- --exact --nocapture >target/sim-soak-batch.txt 2>&1; then
            cat target/sim-soak-batch.txt
            echo "FAILED in the batch of $test from seed $first (after $seeds seeds); the output is above" | tee -a "$log"
            exit 1
        fi
        grep "each run twice" target/sim-soak-batch.txt | tee -a "$log"
        seeds=$(( seeds + batch ))
    done
    first=$(( first + batch ))
done
echo "PASS: $seeds seeds (each run twice) in $minutes minutes" | tee -a "$log"
