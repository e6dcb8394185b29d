#!/usr/bin/env bash
# Cross-builds kiln for aarch64 or armhf and runs its unit tests under qemu-user (through the cross
# file's exe_wrapper), with KILN_TEST_QUICK=1: the heaviest do less of the same (test/quick.h).
#   bash scripts/test-cross.sh aarch64      # build-aarch64/
#   bash scripts/test-cross.sh armhf        # build-armhf/
# Extra arguments go to `meson setup`. Runs scripts/setup-cross.sh first (quick when done before).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
arch=${1:-}
case "$arch" in
    aarch64|armhf) shift ;;
    *) echo "usage: $0 aarch64|armhf [meson setup options]" >&2; exit 2 ;;
esac
builddir=build-$arch

bash scripts/setup-cross.sh "$arch"
# The cross file sets -Dsimd=generic and -Dcuda=disabled; the command-line tools are not run here.
opts=(--buildtype=release -Dtools=false "$@")
cross=(--cross-file "build-cross/$arch-root.ini" --cross-file "cross/$arch.ini")
if [ -f "$builddir/meson-private/coredata.dat" ]; then
    meson setup --reconfigure "$builddir" "${cross[@]}" "${opts[@]}"
else
    meson setup "$builddir" "${cross[@]}" "${opts[@]}"
fi
meson compile -C "$builddir"
rm -f "$builddir/meson-logs/testlog.json"   # never count an earlier run's results
# Under emulation the heaviest tests do less of the same (test/quick.h).
KILN_TEST_QUICK=1 meson test -C "$builddir" --print-errorlogs --num-processes 2 --timeout-multiplier 3
