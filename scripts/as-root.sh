# Sourced by the install scripts: `as_root CMD...` runs a command as root, directly when
# root, through sudo otherwise.
as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        echo "error: installing packages needs root, and sudo is missing" >&2
        exit 1
    fi
}
