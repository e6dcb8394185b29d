#!/usr/bin/env python3
"""kiln's SGEMM beside Debian's OpenBLAS on square products, 64³ to 2048³, 1 and 2 threads, one run.

    python3 bench/gemm_vs_openblas.py [--build build] [--smoke]

kiln's side is <build>/bench/bench-gemm (its "square" rows; each figure the median of 7 timings of
at least 20 ms). OpenBLAS's is numpy's float32 a @ b in Debian's /usr/bin/python3, whose libblas.so.3
is made OpenBLAS's (its AVX-512 kernels) by putting /usr/lib/x86_64-linux-gnu/openblas-openmp first
on LD_LIBRARY_PATH, with OPENBLAS_NUM_THREADS = OMP_NUM_THREADS = the thread count and the
OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE overrides unset; timed the same way. Both as % of the FMA peak
bench-gemm measures in the same run. Needs python3-numpy and libopenblas0-openmp (apt); without
them OpenBLAS's side is skipped with that reason. --smoke: kiln's side once, briefly (CI).
"""
import argparse
import os
import re
import subprocess
import sys

SIZES = [64, 128, 256, 512, 1024, 2048]
OPENBLAS_DIR = "/usr/lib/x86_64-linux-gnu/openblas-openmp"
NUMPY_SIDE = r"""
import ctypes, sys, time
import numpy as np
def median_seconds(f):
    f()
    calls = 1
    while True:
        t0 = time.perf_counter()
        for _ in range(calls): f()
        if time.perf_counter() - t0 >= 0.02: break
        calls *= 2
    samples = []
    for _ in range(7):
        t0 = time.perf_counter()
        for _ in range(calls): f()
        samples.append((time.perf_counter() - t0) / calls)
    return sorted(samples)[3]
try:
    core = ctypes.CDLL("libopenblas.so.0")
    core.openblas_get_corename.restype = ctypes.c_char_p
    print("core", core.openblas_get_corename().decode())
except OSError:
    print("core none")
rng = np.random.default_rng(1)
for n in map(int, sys.argv[1:]):
    a, b = rng.uniform(-1, 1, (n, n)).astype(np.float32), rng.uniform(-1, 1, (n, n)).astype(np.float32)
    print(n, 2.0 * n ** 3 / median_seconds(lambda: a @ b) * 1e-9)
"""


def kiln_side(build, smoke):
    out = subprocess.run([os.path.join(build, "bench", "bench-gemm"), "1", "2"] + (["--smoke"] if smoke else []),
                         capture_output=True, text=True, check=True).stdout
    peak = float(re.search(r"FMA peak, one thread: ([0-9.]+)", out).group(1))
    rates = {}
    for line in out.splitlines():
        m = re.match(r"square\s+0\s+0\s+(\d+)\s+(\d+)\s+(\d+)\s+([0-9.]+)\s+([0-9.]+)$", line)
        if m and m.group(1) == m.group(2) == m.group(3):
            rates[int(m.group(1))] = (float(m.group(4)), float(m.group(5)))
    missing = [n for n in SIZES if n not in rates]
    if missing:
        sys.exit(f"gemm_vs_openblas: bench-gemm printed no square row for {missing}:\n{out}")
    return peak, rates


def openblas_side(threads):
    python = "/usr/bin/python3"
    env = {k: v for k, v in os.environ.items() if k not in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")}
    env["LD_LIBRARY_PATH"] = os.pathsep.join(p for p in (OPENBLAS_DIR, env.get("LD_LIBRARY_PATH")) if p)
    env["OPENBLAS_NUM_THREADS"] = env["OMP_NUM_THREADS"] = str(threads)
    if not os.path.isdir(OPENBLAS_DIR) or subprocess.run([python, "-c", "import numpy"], capture_output=True).returncode:
        return None, "needs python3-numpy and libopenblas0-openmp (apt-get install -y python3-numpy libopenblas0-openmp)"
    out = subprocess.run([python, "-c", NUMPY_SIDE, *map(str, SIZES)], env=env, capture_output=True, text=True, check=True).stdout
    lines = out.split("\n")
    core = lines[0].split()[1]
    return {int(n): float(r) for n, r in (line.split() for line in lines[1:] if line.strip())}, core


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--build", default="build")
    parser.add_argument("--smoke", action="store_true")
    args = parser.parse_args()
    peak, kiln = kiln_side(args.build, args.smoke)
    print(f"FMA peak, one core: {peak:.1f} GFLOP/s (bench-gemm)")
    blas = {}
    for threads in (1, 2):
        rates, note = (None, "--smoke times kiln's side only") if args.smoke else openblas_side(threads)
        blas[threads] = rates
        print(f"OpenBLAS, {threads} thread{'s' if threads > 1 else ''}: {'core ' + note if rates else 'skipped: ' + note}")
    print("| n³ | kiln 1 thr GFLOP/s (% peak) | OpenBLAS 1 thr | kiln / OpenBLAS | kiln 2 thr (% of 2 × peak) | OpenBLAS 2 thr | kiln / OpenBLAS |")
    print("|---|---|---|---|---|---|---|")
    missed = []
    for n in SIZES:
        cells = [str(n)]
        for t in (1, 2):
            k = kiln[n][t - 1]
            b = blas[t][n] if blas[t] else None
            cells += [f"{k:.1f} ({100 * k / (t * peak):.0f} %)", f"{b:.1f} ({100 * b / (t * peak):.0f} %)" if b else "—",
                      f"{k / b:.2f}×" if b else "—"]
            if b and k < b:
                missed.append(f"{n}³ at {t} thread{'s' if t > 1 else ''} ({k / b:.2f}×)")
        print("| " + " | ".join(cells) + " |")
    if any(blas.values()):
        print(f"target SGEMM >= OpenBLAS from 64³ to 2048³: {'met' if not missed else 'MISSED at ' + ', '.join(missed)}")


if __name__ == "__main__":
    main()
