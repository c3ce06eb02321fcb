#!/usr/bin/env bash
# Runs the test suite N times in a row while a CPU hog occupies one of the machine's cores,
# and prints every failure with its test name: a verdict that depends on the machine's
# speed, on scheduling or on what runs beside it shows up here, not in CI.
#
#   scripts/repeat-tests.sh [-n RUNS] [--no-hog] [SUITE...]
#
# SUITE is any of (default: all of them, in this order):
#   unit         every test binary of the workspace but the integration suite: the core's
#                unit and scripted-server tests, the client's virtual-clock tests, the
#                layers' sans-IO tests, the fuzzing corpus replay
#   integration  tests/ (`nats-integration-tests`) against nats-server 2.15.1
#   compat       the core-NATS integration scenarios against Debian's nats-server 2.9.10
#                (the same selection as scripts/test.sh)
#   doc          the documentation examples (`cargo test --doc`)
#   browser      scripts/browser-test.sh (headless Chromium)
#
# The test binaries are built once, before the first run, and copied aside, so that
# rebuilding the workspace while this runs does not change what is being repeated. Each
# run's output is kept in target/repeat-tests/<time>/ (the script prints where). A run that
# does not finish within RUN_TIMEOUT seconds (default 1800) counts as a failure ("hung").
# Exits non-zero when any run failed.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
root="$(pwd)"

runs=10
hog=1
suites=()
while [ $# -gt 0 ]; do
    case "$1" in
    -n)
        runs="$2"
        shift 2
        ;;
    --no-hog)
        hog=0
        shift
        ;;
    -h | --help)
        sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'
        exit 0
        ;;
    unit | integration | compat | doc | browser)
        suites+=("$1")
        shift
        ;;
    all)
        suites+=(unit integration compat doc browser)
        shift
        ;;
    *)
        echo "unknown argument: $1 (see --help)" >&2
        exit 2
        ;;
    esac
done
[ ${#suites[@]} -gt 0 ] || suites=(unit integration compat doc browser)
run_timeout="${RUN_TIMEOUT:-1800}"

scripts/ensure-nats-server.sh >/dev/null
# shellcheck source=/dev/null
. .tools/nats-env
export NATS_SERVER NATS_PYTHON

out="$root/target/repeat-tests/$(date +%Y%m%d-%H%M%S)"
bin="$out/bin"
mkdir -p "$bin"
echo "logs: $out"

# --- build once, copy the binaries aside ------------------------------------------------
# Each line of $out/binaries: <package dir> <copied binary> <name> (the name says what it
# is: `integration`, `it`, `nats_client`, ...).
echo "building the test binaries"
cargo test --workspace --no-run --message-format=json 2>"$out/build.log" |
    python3 -c '
import json, os, shutil, sys
bin_dir = sys.argv[1]
for line in sys.stdin:
    try:
        m = json.loads(line)
    except ValueError:
        continue
    if m.get("reason") != "compiler-artifact" or not m.get("executable"):
        continue
    if not m.get("profile", {}).get("test"):
        continue
    exe = m["executable"]
    copy = os.path.join(bin_dir, os.path.basename(exe))
    shutil.copy2(exe, copy)
    print(os.path.dirname(m["manifest_path"]), copy, m["target"]["name"])
' "$bin" >"$out/binaries" || {
    cat "$out/build.log" >&2
    exit 1
}
echo "$(wc -l <"$out/binaries") test binaries"

# --- the hog --------------------------------------------------------------------------
hog_pid=""
cleanup() {
    if [ -n "$hog_pid" ]; then
        kill "$hog_pid" 2>/dev/null || true
        wait "$hog_pid" 2>/dev/null || true
    fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
if [ "$hog" = 1 ]; then
    # One busy process pinned to the first core: the tests share it with the hog, and have
    # the other core to themselves.
    if command -v taskset >/dev/null; then
        taskset -c 0 sh -c 'while :; do :; done' &
    else
        sh -c 'while :; do :; done' &
    fi
    hog_pid=$!
    echo "CPU hog: pid $hog_pid"
fi

# --- one suite, once --------------------------------------------------------------------
# Runs the command (in the directory given first), writes its output to the log, and prints
# one line: ok, or FAILED with the names of the failing tests.
failures="$out/failures"
: >"$failures"
run_one() {
    local label="$1" dir="$2" log="$3"
    shift 3
    local started status=0
    started=$(date +%s)
    (cd "$dir" && timeout --kill-after=30 "$run_timeout" "$@") >"$log" 2>&1 || status=$?
    local took=$(($(date +%s) - started))
    local passed failed
    passed=$(grep -Eo '[0-9]+ passed' "$log" | awk '{s += $1} END {print s + 0}')
    failed=$(grep -E '^test .* \.\.\. FAILED$' "$log" | sed -E 's/^test (.*) \.\.\. FAILED$/\1/' || true)
    if [ "$status" = 0 ]; then
        printf '  %-28s ok (%s passed, %ss)\n' "$label" "$passed" "$took"
        return
    fi
    if [ "$status" = 124 ] || [ "$status" = 137 ]; then
        failed="${failed:+$failed$'\n'}(hung: no result after ${run_timeout}s)"
    elif [ -z "$failed" ]; then
        failed="(exit status $status, no test reported failing; see the log)"
    fi
    printf '  %-28s FAILED (%ss, log %s)\n' "$label" "$took" "${log#"$out"/}"
    while IFS= read -r name; do
        printf '      %s\n' "$name"
        printf '%s\t%s\n' "$label" "$name" >>"$failures"
    done <<<"$failed"
}

# --- the runs ---------------------------------------------------------------------------
compat_skips=(--skip jetstream:: --skip jetstream_config:: --skip jetstream_features:: --skip jetstream_push:: --skip kv:: --skip object_store:: --skip service:: --skip interop:: --skip chaos:: --skip migration::)
started_all=$(date +%s)
for i in $(seq 1 "$runs"); do
    echo "run $i/$runs"
    for suite in "${suites[@]}"; do
        case "$suite" in
        unit)
            while read -r dir exe name; do
                [ "$name" = integration ] && continue
                run_one "unit: $name" "$dir" "$out/run$i-unit-$name.log" "$exe"
            done <"$out/binaries"
            ;;
        integration)
            read -r dir exe _ < <(awk '$3 == "integration"' "$out/binaries")
            run_one "integration (2.15.1)" "$dir" "$out/run$i-integration.log" "$exe"
            ;;
        compat)
            read -r dir exe _ < <(awk '$3 == "integration"' "$out/binaries")
            run_one "integration (2.9.10)" "$dir" "$out/run$i-compat.log" \
                env NATS_SERVER="$NATS_SERVER_COMPAT" "$exe" "${compat_skips[@]}"
            ;;
        doc)
            run_one "doc" "$root" "$out/run$i-doc.log" cargo test --workspace --doc
            ;;
        browser)
            run_one "browser" "$root" "$out/run$i-browser.log" scripts/browser-test.sh
            ;;
        esac
    done
done

# --- summary ----------------------------------------------------------------------------
took=$(($(date +%s) - started_all))
echo
if [ ! -s "$failures" ]; then
    echo "$runs runs of ${suites[*]} in ${took}s: no failures"
    exit 0
fi
echo "$runs runs of ${suites[*]} in ${took}s: $(wc -l <"$failures") failures"
sort "$failures" | uniq -c | sort -rn | awk -F'\t' '{printf "  %s  %s\n", $1, $2}'
exit 1
