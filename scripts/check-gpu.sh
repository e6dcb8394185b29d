#!/usr/bin/env bash
# On a machine with an NVIDIA GPU: the checks that CI, which has none, cannot run.
#   bash scripts/check-gpu.sh          (builds in build/ first if needed; KILN_BUILD_DIR picks another)
# 1. the GPU tests: cuda-device (the course's models trained on the GPU against the CPU reference,
#    with the backend's own and with cuDNN's convolutions, and run twice for determinism) and
#    backend-ops (every op on the GPU against the reference, sentinels, NaN/Inf);
# 2. one epoch of TinyVGG on Fashion-MNIST with kiln-train --device cpu and --device cuda;
# 3. the nccl communicator under mpirun with one rank (a machine may have one GPU): mpi_check nccl
#    (device buffers averaged, a CNN trained on cuda against one process) and kiln-train --device cuda;
# 4. bench-models on both devices.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
builddir=${KILN_BUILD_DIR:-build}
command -v nvcc >/dev/null 2>&1 || export PATH=$PATH:/usr/local/cuda/bin
command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L

[ -f "$builddir/build.ninja" ] || meson setup "$builddir" --buildtype=release
meson compile -C "$builddir"
status=0
meson test -C "$builddir" --print-errorlogs cuda-device backend-ops cuda-kernels || status=$?
grep -hE "^(ok|FAIL|skipped)|^cuda-(gemm|cudnn):|on cuda \(" "$builddir/meson-logs/testlog.txt" || true

if [ -d /usr/share/datasets/fashion-mnist ]; then
    for device in cpu cuda; do
        start=$SECONDS
        "$builddir/tools/kiln-train" --data idx:/usr/share/datasets/fashion-mnist --model tinyvgg --epochs 1 \
            --device "$device" --out "/tmp/kiln-check-gpu-$device" | tail -n 2 || status=$?
        echo "kiln-train --device $device: $((SECONDS - start)) s"
    done
fi
if command -v mpirun >/dev/null 2>&1; then
    mpirun --allow-run-as-root -np 1 "$builddir/test/dist/mpi_check" nccl || status=$?
    if [ -d /usr/share/datasets/fashion-mnist ]; then
        mpirun --allow-run-as-root -np 1 "$builddir/tools/kiln-train" --device cuda --data idx:/usr/share/datasets/fashion-mnist \
            --limit 2000 --epochs 1 --out /tmp/kiln-check-nccl | tail -n 2 || status=$?
    fi
fi
for model in tinyvgg resnet_mini; do
    for device in cpu cuda; do "$builddir/bench/bench-models" "$model" --device "$device" --seconds 3 || status=$?; done
done
exit $status
