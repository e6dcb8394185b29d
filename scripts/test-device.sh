#!/usr/bin/env bash
# Builds kiln's firmware for a bare-metal Cortex-M7 (cross/cortex-m7.ini: Debian's
# gcc-arm-none-eabi with newlib) and runs it on qemu-system-arm's mps2-an500 board, where each
# firmware checks itself against the build machine and exits non-zero on a mismatch. Installs the
# toolchain and QEMU first when they are missing.
#   bash scripts/test-device.sh         # build-m7/
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/apt-common.sh
. scripts/apt-common.sh
install_packages gcc-arm-none-eabi libnewlib-arm-none-eabi libstdc++-arm-none-eabi-newlib qemu-system-arm meson ninja-build g++

builddir=build-m7
if [ -f "$builddir/meson-private/coredata.dat" ]; then
    meson setup --reconfigure "$builddir" --cross-file cross/cortex-m7.ini --buildtype=release
else
    meson setup "$builddir" --cross-file cross/cortex-m7.ini --buildtype=release
fi
meson compile -C "$builddir"
echo "--- firmware sizes (text: flash; data + bss: RAM besides the stack)"
arm-none-eabi-size "$builddir"/examples/device/kernel-check
rm -f "$builddir/meson-logs/testlog.json"   # never count an earlier run's results
meson test -C "$builddir" --print-errorlogs --verbose
