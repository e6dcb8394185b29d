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
step() { printf '\n== %s (%d s so far)\n' "$1" "$SECONDS"; }
step "1/4 installing what a fresh Debian 12 needs (apt; quick when it is there): scripts/setup.sh"
bash scripts/setup.sh
builddir=${KILN_BUILD_DIR:-build}
step "2/4 building kiln in $builddir/ (the first time about 10 minutes on 2 cores; then seconds)"
if [ -f "$builddir/meson-private/coredata.dat" ]; then
    meson setup --reconfigure "$builddir" --buildtype=release >/dev/null
else
    meson setup "$builddir" --buildtype=release >/dev/null
fi
# Ninja's "[n/m] Compiling …" lines as a percentage every 10 %; errors in full.
meson compile -C "$builddir" | awk '
    /^\[[0-9]+\/[0-9]+\]/ { split(substr($1, 2), n, "/"); p = int(100 * n[1] / n[2])
                            if (p >= shown + 10 || n[1] == n[2]) { printf "  %3d %% of %d steps\n", p, n[2]; shown = p; fflush() }
                            next }
    /error|FAILED/ { print; fflush() }'
step "3/4 training TinyVGG on Fashion-MNIST (about 30 s on 2 cores)"

run=${KILN_RUN_DIR:-runs/main}
data=idx:/usr/share/datasets/fashion-mnist
rm -rf "$run"
mkdir -p "$(dirname "$run")"
"$builddir/tools/kiln-train" --data "$data" --model tinyvgg --model-arg hidden_units=10 \
    --epochs "${KILN_EPOCHS:-5}" --batch 32 --optimizer sgd --lr 0.1 --schedule cosine \
    --valid-split 0.1 --early-stopping yes --monitor valid_loss --patience 2 \
    --checkpoint-monitor valid_acc --load-best yes --out "$run"
step "4/4 evaluating the best weights on the 10,000 test images, drawing the filters"
"$builddir/tools/kiln-infer" "$run" --data "$data,split=test" --misclassified 16
"$builddir/tools/kiln-infer" "$run" --filters
echo "report: $run/report.html"
