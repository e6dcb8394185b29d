#!/usr/bin/env python3
"""Data-parallel scaling (issue 16): on this machine, 2 ranks x 1 thread (mpirun) against 1 rank x 2
threads, training images/s of TinyVGG and resnet_mini at one global batch, also as % of the two
cores' FMA peak measured in the same run (bench-gemm --peak; the arithmetic of an image from
bench-models' train_gflop); then a cost model for N nodes from the measured figures.

  python3 bench/dist_scaling.py [--models tinyvgg resnet_mini] [--batch 64] [--repeats 3]
                                [--seconds 3] [--build build] [--smoke]

Cost model (one rank per node, all its cores; no overlap: kiln allreduces the fused gradients
after the backward pass). A step on N nodes with b images per node takes
  t_compute(b) = b x (compute time per image, measured: 1 rank x 2 threads on this machine)
  t_allreduce(N) = 2 (N-1)/N x bytes / bandwidth + 2 (N-1) x latency      (ring allreduce)
with bytes = the fused gradients (parameters x 4, measured), and efficiency
t_compute / (t_compute + t_allreduce). Networks: 10 GbE (1.25 GB/s, 25 us per message: MPI over
TCP) and 100 Gb InfiniBand (12.5 GB/s, 2 us). The smallest global batch at which the efficiency
stays at or above 90 % is N x ceil(9 t_allreduce / compute time per image).
"""
import argparse
import math
import re
import shutil
import statistics
import subprocess
import sys

NETWORKS = [("10 GbE", 1.25e9, 25e-6), ("100 Gb IB", 12.5e9, 2e-6)]
NODES = [2, 8, 32]


def run(cmd):
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    line = [l for l in out.splitlines() if l.startswith("model=")][-1]
    return {k: v for k, v in (kv.split("=", 1) for kv in line.split())}


def allreduce_seconds(nodes, nbytes, bandwidth, latency):
    return 2 * (nodes - 1) / nodes * nbytes / bandwidth + 2 * (nodes - 1) * latency


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", nargs="+", default=["tinyvgg", "resnet_mini"])
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=3)
    ap.add_argument("--build", default="build")
    ap.add_argument("--smoke", action="store_true")
    a = ap.parse_args()
    exe = f"{a.build}/bench/bench-dist"
    if a.smoke:
        a.repeats, a.models = 1, a.models[:1]
    timing = ["--smoke"] if a.smoke else ["--seconds", str(a.seconds)]
    mpirun = shutil.which("mpirun")
    if not mpirun:
        print("skipped: no mpirun (apt-get install openmpi-bin libopenmpi-dev)")
        return 0
    mpi = [mpirun, "--allow-run-as-root", "--oversubscribe", "-np", "2"]

    gemm = subprocess.run([f"{a.build}/bench/bench-gemm", "--peak"], check=True, capture_output=True, text=True).stdout
    peak = float(re.search(r"FMA peak, one thread: ([0-9.]+) GFLOP/s", gemm).group(1))
    print(gemm.strip(), "(bench-gemm --peak)")
    rows = {}
    for model in a.models:
        gflop = float(run([f"{a.build}/bench/bench-models", model, "--smoke", "--threads", "1"])["train_gflop"])
        one, two = [], []
        for _ in range(a.repeats):  # alternating, so that a disturbance hits both
            one.append(run([exe, model, "--batch", str(a.batch), "--threads", "2"] + timing))
            two.append(run(mpi + [exe, model, "--batch", str(a.batch), "--threads", "1"] + timing))
        med = lambda rs, k: statistics.median(float(r[k]) for r in rs)
        rows[model] = dict(one_img_s=med(one, "img_s"), two_img_s=med(two, "img_s"), compute_ms=med(one, "compute_ms"),
                           rank_compute_ms=med(two, "compute_ms"), step_ms=med(two, "step_ms"),
                           allreduce_ms=med(two, "allreduce_ms"), grad_bytes=int(two[0]["grad_bytes"]),
                           params=int(two[0]["params"]), gflop=gflop)

    print(f"\nthis machine, global batch {a.batch}, median of {a.repeats} (images/s):")
    print(f"{'model':12s} {'params':>8s} {'1 rank x 2 thr':>15s} {'2 ranks x 1 thr':>16s} {'ratio':>6s} "
          f"{'rank compute ms':>16s} {'step ms':>8s} {'allreduce ms':>13s}")
    pct = lambda r, img_s: 100 * img_s * r["gflop"] / (2 * peak)
    for m, r in rows.items():
        print(f"{m:12s} {r['params']:8d} {r['one_img_s']:8.0f} ({pct(r, r['one_img_s']):4.1f}%) "
              f"{r['two_img_s']:8.0f} ({pct(r, r['two_img_s']):4.1f}%) {r['two_img_s'] / r['one_img_s']:6.2f} "
              f"{r['rank_compute_ms']:16.2f} {r['step_ms']:8.2f} {r['allreduce_ms']:13.3f}")
    print(f"(in brackets: % of the two cores' FMA peak, 2 x {peak:.1f} GFLOP/s)")

    print(f"\ncost model: one node = this machine (1 rank x 2 threads), {a.batch} images per node and step;"
          " efficiency at N nodes, and the smallest global batch that keeps it >= 90 %:")
    print(f"{'model':12s} {'network':10s} {'bytes/step':>10s} {'compute ms':>10s} "
          + " ".join(f"{'N=' + str(n):>14s}" for n in NODES))
    for m, r in rows.items():
        per_image = r["compute_ms"] / 1e3 / a.batch
        for name, bandwidth, latency in NETWORKS:
            cells = []
            for n in NODES:
                t_ar = allreduce_seconds(n, r["grad_bytes"], bandwidth, latency)
                t_c = per_image * a.batch
                eff = t_c / (t_c + t_ar)
                b90 = n * math.ceil(9 * t_ar / per_image)
                cells.append(f"{100 * eff:5.1f}% B>={b90:<5d}")
            print(f"{m:12s} {name:10s} {r['grad_bytes']:10d} {r['compute_ms']:10.2f} " + " ".join(f"{c:>14s}" for c in cells))
    return 0


if __name__ == "__main__":
    sys.exit(main())
