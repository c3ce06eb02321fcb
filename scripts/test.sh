#!/usr/bin/env bash
# The project's full test command (`.ci/run` calls exactly this): formatting, lints, unit
# and integration tests, docs, and the std example against a real nats-server.
# Installs nats-server with apt-get when it is missing.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

section() {
    printf '\n==== %s ====\n' "$*"
}

section "nats-server"
scripts/ensure-nats-server.sh

section "cargo fmt --all -- --check"
cargo fmt --all -- --check

section "cargo clippy --workspace --all-targets -- -D warnings"
cargo clippy --workspace --all-targets -- -D warnings

section "cargo test --workspace"
cargo test --workspace

section "cargo doc --workspace --no-deps (warnings are errors)"
RUSTDOCFLAGS="${RUSTDOCFLAGS:-} -D warnings" cargo doc --workspace --no-deps

section "demo: nats-proto std example against a real nats-server"
scripts/demo.sh

section "all checks passed"
