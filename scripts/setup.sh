#!/usr/bin/env bash
# Installs what a fresh Debian 12 machine needs to build and test kiln. Idempotent: packages that
# are already installed are left alone, and apt-get update runs only when something is missing.
#
#   bash scripts/setup.sh                    # native build and tests
#   bash scripts/setup.sh --cross            # ... plus the aarch64 and armhf cross toolchains + sysroots
#   bash scripts/setup.sh --cross=aarch64    # ... plus one of them
#   KILN_SETUP_CROSS="aarch64 armhf" bash scripts/setup.sh   # the same through the environment
#
# Runs as root, or through sudo otherwise.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=scripts/apt-common.sh
. "$here/apt-common.sh"

cross=${KILN_SETUP_CROSS:-}
for arg in "$@"; do
    case "$arg" in
        --cross) cross="aarch64 armhf" ;;
        --cross=*) cross=${arg#--cross=}; cross=${cross//,/ } ;;
        -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
        *) echo "usage: $0 [--cross[=aarch64,armhf]]" >&2; exit 2 ;;
    esac
done

packages=(
    g++ meson ninja-build pkg-config python3
    xtensor-dev libxsimd-dev libboost-test-dev nlohmann-json3-dev
    libpng-dev libjpeg62-turbo-dev zlib1g-dev
    dataset-fashion-mnist
)
install_packages "${packages[@]}"

for arch in $cross; do
    bash "$here/setup-cross.sh" "$arch"
done
