#!/usr/bin/env bash
# The README's main job: installs what a fresh Debian 12 machine needs, builds kiln (release) in
# build/, trains TinyVGG on Fashion-MNIST (Debian's dataset-fashion-mnist, read by the idx plugin)
# with cosine learning rate, early stopping and the best checkpoint, evaluates the best weights on
# the 10,000 test images with kiln-infer, and leaves everything in the run directory:
#   history.csv/json, curves.png, best.safetensors, confusion.png, misclassified.png, filters.png,
#   report.html (open it in a browser).
# KILN_RUN_DIR picks the run directory (default runs/main; an earlier run there is replaced),
# KILN_EPOCHS the epochs (default 5).
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

run=${KILN_RUN_DIR:-runs/main}
data=idx:/usr/share/datasets/fashion-mnist
rm -rf "$run"
mkdir -p "$(dirname "$run")"
"$builddir/tools/kiln-train" --data "$data" --model tinyvgg --model-arg hidden_units=10 \
    --epochs "${KILN_EPOCHS:-5}" --batch 32 --optimizer sgd --lr 0.1 --schedule cosine \
    --valid-split 0.1 --early-stopping yes --monitor valid_loss --patience 2 \
    --checkpoint-monitor valid_acc --load-best yes --out "$run"
"$builddir/tools/kiln-infer" "$run" --data "$data,split=test" --misclassified 16
"$builddir/tools/kiln-infer" "$run" --filters
echo "report: $run/report.html"
