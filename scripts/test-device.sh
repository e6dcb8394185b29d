#!/usr/bin/env bash
# Deploys kiln's course models to devices and checks them against the build machine:
#   1. trains TinyVGG (hidden 10), LeNet-5, fmnist_mlp and resnet_mini briefly (10,000 Fashion-MNIST
#      images, two epochs of Adam; about 25 s in all) with the native build's kiln-train;
#   2. exports each with kiln-export (and TinyVGG's training program, SGD with momentum 0.9, and the
#      int8 programs of TinyVGG, LeNet-5 and resnet_mini, kiln-export --int8 --calibrate), has
#      kiln-infer write its logits for the first 100 test images, embeds those images, and has
#      device-train-reference take the training check's steps on the host — all into
#      build-device/programs/;
#   3. for each target, builds the device programs (examples/device) against that folder and runs
#      them under QEMU: m7 (bare-metal Cortex-M7 firmware on qemu-system-arm's mps2-an500, 256 KiB
#      of RAM), aarch64 and armhf (static Linux programs under qemu-user).
# Installs the toolchains and QEMU first when they are missing; builds the native tools in build/
# (KILN_BUILD_DIR) when they are not there.
#   bash scripts/test-device.sh                  # m7 aarch64 armhf
#   bash scripts/test-device.sh m7               # build-m7/
#   bash scripts/test-device.sh aarch64 armhf    # build-device-aarch64/, build-device-armhf/
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
top=$(pwd)
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(m7 aarch64 armhf)
for t in "${targets[@]}"; do
    case "$t" in m7|aarch64|armhf) ;; *) echo "usage: $0 [m7] [aarch64] [armhf]" >&2; exit 2 ;; esac
done

# --- the host's side
native=${KILN_BUILD_DIR:-build}
if [ ! -f "$native/meson-private/coredata.dat" ]; then
    bash scripts/setup.sh
    meson setup "$native" --buildtype=release
fi
meson compile -C "$native" tools/kiln-train:executable tools/kiln-export:executable tools/kiln-infer:executable \
    examples/device-train-reference:executable >/dev/null
work=$top/build-device
programs=$work/programs
data=/usr/share/datasets/fashion-mnist
rm -rf "$work/runs" "$programs"
mkdir -p "$work/runs" "$programs"
for model in tinyvgg lenet5 fmnist_mlp resnet_mini; do
    args=()
    [ "$model" = tinyvgg ] && args=(--model-arg hidden_units=10)
    "$native/tools/kiln-train" --data "idx:$data" --model "$model" "${args[@]}" --epochs 2 --limit 10000 \
        --optimizer adam --threads 2 --out "$work/runs/$model" >"$work/runs/$model.log"
    "$native/tools/kiln-export" "$work/runs/$model" --out "$programs" --name "$model"
    "$native/tools/kiln-infer" "$work/runs/$model" --data "idx:$data,split=test" --limit 100 --batch 1 \
        --logits "$programs/$model.csv" >/dev/null
    python3 examples/device/embed.py logits "$programs/$model.csv" "$model" "$programs/${model}_expected.h"
done
# int8: calibrated on 1,000 training images (min/max); the device must give kiln-infer --int8's
# logits bit for bit.
for model in tinyvgg lenet5 resnet_mini; do
    "$native/tools/kiln-export" "$work/runs/$model" --int8 --calibrate "idx:$data,split=train" --out "$programs" --name "${model}_int8"
    "$native/tools/kiln-infer" "$work/runs/$model" --int8 --data "idx:$data,split=test" --limit 100 --batch 1 \
        --logits "$programs/${model}_int8.csv" >/dev/null
    python3 examples/device/embed.py logits "$programs/${model}_int8.csv" "${model}_int8" "$programs/${model}_int8_expected.h"
done
python3 examples/device/embed.py samples "$data" 100 "$programs"
# On-device training: fine-tuning the trained TinyVGG on the 100 images, 300 steps of batch 1 (three
# passes), SGD with momentum.
"$native/tools/kiln-export" "$work/runs/tinyvgg" --out "$programs" --name tinyvgg_train --train --lr 0.0001 --momentum 0.9
"$native/examples/device-train-reference" "$work/runs/tinyvgg" "$programs" 300 1 0.0001 0.9 "$programs/train_expected.h"

# --- the devices (a target that fails does not stop the others)
status=0
for t in "${targets[@]}"; do
    if [ "$t" = m7 ]; then
        bash scripts/setup.sh --m7
        builddir=build-m7
        # -Os, as firmware is built; classify.cpp, the README's firmware, with TinyVGG.
        cross=(--cross-file cross/cortex-m7.ini --buildtype=minsize "-Ddevice_model=$programs/tinyvgg")
    else
        bash scripts/setup-cross.sh "$t"
        builddir=build-device-$t
        cross=(--cross-file "build-cross/$t-root.ini" --cross-file "cross/$t.ini" -Ddevice_only=true)
    fi
    opts=(--buildtype=release "-Ddevice_programs=$programs" "${cross[@]}")  # a later --buildtype wins
    # --wipe: Meson reads a cross file's options at the first setup only. The build is small.
    if [ -f "$builddir/meson-private/coredata.dat" ]; then
        meson setup --wipe "$builddir" "${opts[@]}"
    else
        meson setup "$builddir" "${opts[@]}"
    fi
    meson compile -C "$builddir" || { status=1; continue; }
    if [ "$t" = m7 ]; then
        echo "--- firmware sizes (text: flash; data + bss: RAM besides the stack)"
        (cd "$builddir/examples/device" && arm-none-eabi-size kernel-check infer-tinyvgg infer-lenet5 infer-fmnist_mlp infer-resnet_mini \
            infer-tinyvgg_int8 infer-lenet5_int8 infer-resnet_mini_int8 train-tinyvgg)
    fi
    rm -f "$builddir/meson-logs/testlog.json"   # never count an earlier run's results
    meson test -C "$builddir" --print-errorlogs --verbose --num-processes 2 || status=1
    if [ "$t" = m7 ] && [ $status = 0 ]; then
        echo "--- footprint: python3 bench/device_footprint.py"
        python3 bench/device_footprint.py "$builddir" "$programs" "$work/runs" "$native/tools/kiln-export" || status=1
    fi
done
exit $status
