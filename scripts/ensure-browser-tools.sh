#!/usr/bin/env bash
# Installs what the browser tests and the web demo need, when missing, and prints it:
# - the wasm32-unknown-unknown Rust target;
# - wasm-bindgen-cli (wasm-bindgen and wasm-bindgen-test-runner) at exactly the version of
#   the wasm-bindgen crate in Cargo.lock (the CLI refuses a module made by another
#   version), built from crates.io into ~/.cache/nats-rs-tools/wasm-bindgen-VERSION;
# - Debian's chromium and chromium-driver (headless Chromium and its WebDriver) and
#   binaryen (wasm-opt, for the bundle size), through apt-get.
# Idempotent. Writes the tools' paths to .tools/browser-env (WASM_BINDGEN_DIR, CHROMIUM,
# CHROMEDRIVER, WASM_OPT) for the other scripts to source.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
root="$(pwd)"

# shellcheck source=scripts/as-root.sh
. "$(dirname "${BASH_SOURCE[0]}")/as-root.sh"

rustup target add wasm32-unknown-unknown >/dev/null 2>&1 || rustup target add wasm32-unknown-unknown

version="$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)"
if [ -z "$version" ]; then
    echo "error: no wasm-bindgen in Cargo.lock" >&2
    exit 1
fi
# Outside the work tree, per version, so that a fresh clone on the same machine (CI)
# does not build it again (about 10 minutes on 2 cores). WASM_BINDGEN_ROOT overrides.
bindgen_dir="${WASM_BINDGEN_ROOT:-${XDG_CACHE_HOME:-$HOME/.cache}/nats-rs-tools/wasm-bindgen-$version}"
if ! "$bindgen_dir/bin/wasm-bindgen" --version 2>/dev/null | grep -q " $version\$"; then
    echo "installing wasm-bindgen-cli $version into $bindgen_dir"
    # Not --locked: the CLI's own lock file names versions the index may lack.
    cargo install --quiet wasm-bindgen-cli --version "=$version" --root "$bindgen_dir" --force
fi

missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v chromedriver >/dev/null 2>&1 || missing+=(chromium-driver)
command -v wasm-opt >/dev/null 2>&1 || missing+=(binaryen)
if [ "${#missing[@]}" -gt 0 ]; then
    echo "installing ${missing[*]} with apt-get"
    as_root apt-get update -qq
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "${missing[@]}" >/dev/null
fi

cat >"$root/.tools/browser-env" <<ENV
WASM_BINDGEN_DIR='$bindgen_dir/bin'
CHROMIUM='$(command -v chromium)'
CHROMEDRIVER='$(command -v chromedriver)'
WASM_OPT='$(command -v wasm-opt)'
ENV
echo "wasm-bindgen: $("$bindgen_dir/bin/wasm-bindgen" --version)"
echo "chromium: $(chromium --version 2>/dev/null)"
echo "chromedriver: $(chromedriver --version)"
