#!/usr/bin/env bash
# The project's full test command (`.ci/run` calls exactly this): formatting, lints, unit
# and integration tests, docs, and the std example against a real nats-server.
# Installs the pinned current nats-server (2.15.1) and Debian's 2.9.10 when missing: every
# test runs against the current one, the core-NATS scenarios once more against 2.9.10.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

section() {
    printf '\n==== %s ====\n' "$*"
}

section "nats-server"
scripts/ensure-nats-server.sh
# shellcheck source=/dev/null
. .tools/nats-env
export NATS_SERVER NATS_PYTHON

section "cargo fmt --all -- --check"
cargo fmt --all -- --check

section "cargo clippy --workspace --all-targets -- -D warnings"
cargo clippy --workspace --all-targets -- -D warnings

# nats-proto without std (alloc only): the browser and a bare-metal target.
for target in wasm32-unknown-unknown thumbv7em-none-eabihf; do
    section "nats-proto --no-default-features on $target"
    rustup target add "$target"
    cargo build -p nats-proto --no-default-features --target "$target"
done

# The core as published: the package holds only the crate's own files and builds alone.
section "cargo package -p nats-proto"
cargo package -p nats-proto --allow-dirty

section "cargo test --workspace (nats-server $("$NATS_SERVER" --version))"
cargo test --workspace

# Core NATS on the older server; JetStream and the layers on it need the current one.
section "core-NATS integration scenarios on $("$NATS_SERVER_COMPAT" --version)"
NATS_SERVER="$NATS_SERVER_COMPAT" cargo test -p nats-integration-tests --test integration -- \
    --skip jetstream:: --skip kv:: --skip object_store:: --skip service:: --skip interop:: --skip chaos:: --skip migration::

# The client without TLS in the browser's target (rustls/ring need a C compiler there).
section "nats-client --no-default-features on wasm32-unknown-unknown"
cargo check -p nats-client --no-default-features --target wasm32-unknown-unknown

section "browser tests in headless Chromium"
scripts/browser-test.sh

section "cargo doc --workspace --no-deps (warnings are errors)"
RUSTDOCFLAGS="${RUSTDOCFLAGS:-} -D warnings" cargo doc --workspace --no-deps

section "demo: nats-proto std example against a real nats-server"
scripts/demo.sh

section "all checks passed"
