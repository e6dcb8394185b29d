# shellcheck shell=bash
# Sourced by scripts/setup.sh and scripts/setup-cross.sh: run as root (or through sudo) and install
# only the Debian packages that are missing, quietly, printing apt's log only when it fails.

as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        echo "error: '$*' needs root and sudo is not installed" >&2
        return 1
    fi
}

# Quiet apt run: the output goes to a log that is printed only on failure.
apt_quiet() {
    local log rc=0
    log=$(mktemp)
    as_root env DEBIAN_FRONTEND=noninteractive apt-get -q -y -o Dpkg::Use-Pty=0 "$@" >"$log" 2>&1 || rc=$?
    if [ "$rc" -ne 0 ]; then
        echo "error: apt-get $* failed (exit $rc):" >&2
        cat "$log" >&2
    fi
    rm -f "$log"
    return "$rc"
}

# Prints the packages among "$@" that are not installed.
missing_packages() {
    local p
    for p in "$@"; do
        [ "$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null)" = installed ] || echo "$p"
    done
}

# apt-get update, once per script. A mirror caught mid-sync fails one index now and then ("File has
# unexpected size"): retry, and if it still fails go on with a warning, since the packages needed
# usually resolve from the indexes that did download (the install step says so if they don't).
apt_updated=false
apt_update_once() {
    $apt_updated && return 0
    local try
    for try in 1 2 3; do
        if apt_quiet update 2>/dev/null; then apt_updated=true; return 0; fi
        sleep $((try * 5))
    done
    echo "warning: apt-get update failed 3 times; going on with the package lists as they are" >&2
    apt_quiet update || true
    apt_updated=true
}

# Installs whichever of "$@" are missing (after one apt-get update); does nothing if all are there.
install_packages() {
    local missing
    missing=$(missing_packages "$@")
    [ -n "$missing" ] || return 0
    # shellcheck disable=SC2086  # one package a word, on one line
    echo "installing:" $missing
    apt_update_once
    # shellcheck disable=SC2086  # one package a word
    apt_quiet install --no-install-recommends $missing
}
