#!/usr/bin/env bash
# The README's main job: installs what a fresh Debian 12 machine needs, builds kiln (release) in
# build/ and runs it. For now the main job is the course's first three workflows (linear
# regression, circles, blobs); the tools issue turns it into training TinyVGG on Fashion-MNIST.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh
builddir=${KILN_BUILD_DIR:-build}
if [ -f "$builddir/meson-private/coredata.dat" ]; then
    meson setup --reconfigure "$builddir" --buildtype=release >/dev/null
else
    meson setup "$builddir" --buildtype=release >/dev/null
fi
meson compile -C "$builddir" >/dev/null
out=${KILN_RUN_DIR:-runs/main}
mkdir -p "$out"
for example in linear_regression circles blobs; do
    echo "== $example"
    "$builddir/examples/$example" --out "$out/$example"
done
