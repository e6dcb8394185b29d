#!/usr/bin/env bash
# Builds kiln (release) in build/ and runs its tests. Extra arguments go to `meson setup`:
#   bash scripts/test.sh                     # as the README says
#   bash scripts/test.sh -Dcuda=disabled     # e.g. without the CUDA backend
# KILN_BUILD_DIR picks another build folder.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
builddir=${KILN_BUILD_DIR:-build}

# Meson finds nvcc only on PATH; the CUDA toolkit installs it in /usr/local/cuda/bin.
if ! command -v nvcc >/dev/null 2>&1 && [ -x /usr/local/cuda/bin/nvcc ]; then
    export PATH=$PATH:/usr/local/cuda/bin
fi

if [ -f "$builddir/meson-private/coredata.dat" ]; then
    meson setup --reconfigure "$builddir" --buildtype=release "$@"
else
    meson setup "$builddir" --buildtype=release "$@"
fi
meson compile -C "$builddir"
rm -f "$builddir/meson-logs/testlog.json"   # never count an earlier run's results
meson test -C "$builddir" --print-errorlogs --num-processes 2
