#!/usr/bin/env bash
# The project's full test command (`.ci/run` calls exactly this): formatting, lints, unused
# dependencies, packaging of the published crates, the minimum Rust version, unit and
# integration tests, docs, the std example against a real nats-server, and last the lints
# again with the newest compatible dependencies.
# Installs the pinned current nats-server (2.15.1) and Debian's 2.9.10 when missing: every
# test runs against the current one, the core-NATS scenarios once more against 2.9.10.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

section() {
    printf '\n==== %s ====\n' "$*"
}

# The crates published to crates.io, in dependency order.
published=(nats-proto nats-client nats-jetstream nats-stores nats-service nats-tokio nats-smol nats-async-std nats-web)

section "nats-server"
scripts/ensure-nats-server.sh
# shellcheck source=/dev/null
. .tools/nats-env
export NATS_SERVER NATS_SERVER_COMPAT NATS_PYTHON

section "cargo fmt --all -- --check"
cargo fmt --all -- --check

section "cargo clippy --workspace --all-targets -- -D warnings"
cargo clippy --workspace --all-targets -- -D warnings
# The benchmarks against other clients build only with the `compare` feature.
section "cargo clippy -p nats-bench --features compare --all-targets -- -D warnings"
cargo clippy -p nats-bench --features compare --all-targets -- -D warnings

# Dependencies no crate uses. A dependency used in a way cargo-machete cannot see is listed,
# with the reason, under `[package.metadata.cargo-machete]` in its crate's manifest.
section "cargo machete (unused dependencies)"
if ! command -v cargo-machete >/dev/null; then
    cargo install cargo-machete --version 0.9.2 --locked
fi
cargo machete

# nats-proto without std (alloc only): the browser and a bare-metal target.
for target in wasm32-unknown-unknown thumbv7em-none-eabihf; do
    section "nats-proto --no-default-features on $target"
    rustup target add "$target"
    cargo build -p nats-proto --no-default-features --target "$target"
done

# The crates as published: each package holds only its crate's own files (its LICENSE is
# a symlink to the root one) and builds alone, against the packages of the others (cargo
# packages workspace crates together and resolves their dependencies on each other through
# a temporary local registry). nats-web builds on every target, so it is verified on the
# host like the others; its wasm32 build is checked with the minimum Rust version below.
section "cargo package (${published[*]})"
# Cargo extracts the temporary registry's crates under $CARGO_HOME/registry/src/-<hash>/,
# the hash taken from the registry's path, and never extracts a version it has extracted:
# a second run at the same path would verify against the first run's sources. Ours go.
rm -rf "${CARGO_HOME:-$HOME/.cargo}"/registry/src/-*/nats-*-0.1.0
package_args=()
for crate in "${published[@]}"; do
    package_args+=(-p "$crate")
done
cargo package --allow-dirty "${package_args[@]}"

# The minimum Rust version (`rust-version` of the workspace) builds every published crate,
# nats-web in the browser's target, with the locked dependencies.
msrv="$(sed -n 's/^rust-version = "\([^"]*\)"$/\1/p' Cargo.toml)"
section "minimum Rust version $msrv"
rustup toolchain install "$msrv" --profile minimal
rustup target add --toolchain "$msrv" wasm32-unknown-unknown
msrv_args=()
for crate in "${published[@]}"; do
    [ "$crate" = nats-web ] || msrv_args+=(-p "$crate")
done
CARGO_TARGET_DIR=target/msrv cargo +"$msrv" check --locked "${msrv_args[@]}"
CARGO_TARGET_DIR=target/msrv cargo +"$msrv" check --locked -p nats-web --all-features \
    --target wasm32-unknown-unknown

section "cargo test --workspace (nats-server $("$NATS_SERVER" --version))"
cargo test --workspace

# Core NATS on the older server; JetStream and the layers on it need the current one.
section "core-NATS integration scenarios on $("$NATS_SERVER_COMPAT" --version)"
NATS_SERVER="$NATS_SERVER_COMPAT" cargo test -p nats-integration-tests --test integration -- \
    --skip jetstream:: --skip jetstream_config:: --skip jetstream_features:: --skip jetstream_push:: \
    --skip kv:: --skip object_store:: --skip service:: --skip interop:: --skip chaos:: --skip migration:: \
    --skip simulation::the_jetstream_workload

# TLS with rustls' other crypto provider (cargo feature `aws-lc-rs`, without ring): the
# provider is chosen and a TLS configuration built.
section "nats-client with aws-lc-rs instead of ring"
cargo test -p nats-client --no-default-features --features aws-lc-rs,nkeys --lib tls

# The client without TLS in the browser's target (rustls/ring need a C compiler there).
# The layers on top of it too (they need none of its features), as the browser uses them.
section "nats-client --no-default-features and the layers on wasm32-unknown-unknown"
cargo check -p nats-client --no-default-features -p nats-jetstream -p nats-stores -p nats-service \
    --target wasm32-unknown-unknown

section "browser tests in headless Chromium"
scripts/browser-test.sh

section "cargo doc --workspace --no-deps (warnings are errors)"
RUSTDOCFLAGS="${RUSTDOCFLAGS:-} -D warnings" cargo doc --workspace --no-deps

section "demo: nats-proto std example against a real nats-server"
scripts/demo.sh

# Last: the lints with the newest dependencies the manifests allow, as a user without this
# Cargo.lock gets them (new deprecations, new lints on their APIs). The lock file is restored
# afterwards, whether or not the lints pass.
section "cargo clippy with the newest dependencies (cargo update)"
lock_backup="$(mktemp)"
cp Cargo.lock "$lock_backup"
trap 'cp "$lock_backup" Cargo.lock; rm -f "$lock_backup"' EXIT
cargo update
cargo clippy --workspace --all-targets -- -D warnings
cp "$lock_backup" Cargo.lock
rm -f "$lock_backup"
trap - EXIT

section "all checks passed"
