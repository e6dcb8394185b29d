#!/usr/bin/env bash
# Installs what a fresh Debian 12 machine needs to build and test kiln. Idempotent: packages that
# are already installed are left alone, and apt-get update runs only when something is missing.
#
#   bash scripts/setup.sh                    # native build and tests
#   bash scripts/setup.sh --cross            # ... plus the aarch64 and armhf cross toolchains + sysroots
#   bash scripts/setup.sh --cross=aarch64    # ... plus one of them
#   bash scripts/setup.sh --m7               # ... plus the bare-metal Cortex-M7 toolchain and qemu-system-arm
#   KILN_SETUP_CROSS="aarch64 armhf" bash scripts/setup.sh   # the same through the environment
#
# Runs as root, or through sudo otherwise.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=scripts/apt-common.sh
. "$here/apt-common.sh"

cross=${KILN_SETUP_CROSS:-}
m7=false
for arg in "$@"; do
    case "$arg" in
        --cross) cross="aarch64 armhf" ;;
        --cross=*) cross=${arg#--cross=}; cross=${cross//,/ } ;;
        --m7) m7=true ;;
        -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
        *) echo "usage: $0 [--cross[=aarch64,armhf]] [--m7]" >&2; exit 2 ;;
    esac
done

packages=(
    g++ meson ninja-build pkg-config python3
    xtensor-dev libxsimd-dev libboost-test-dev nlohmann-json3-dev
    libpng-dev libjpeg62-turbo-dev zlib1g-dev
    console-setup-linux  # Terminus Font's PSF files: the text of kiln's pictures, compiled in (lib/kiln/image/meson.build)
    dataset-fashion-mnist
    openmpi-bin libopenmpi-dev  # data-parallel training: the MPI module (libkiln-mpi.so) and mpirun
)
# Firmware (cross/cortex-m7.ini): Debian's gcc-arm-none-eabi with newlib and its libstdc++, run on
# qemu-system-arm's mps2-an500 board.
if $m7; then
    packages+=(gcc-arm-none-eabi libnewlib-arm-none-eabi libstdc++-arm-none-eabi-newlib qemu-system-arm)
fi
install_packages "${packages[@]}"

for arch in $cross; do
    bash "$here/setup-cross.sh" "$arch"
done
