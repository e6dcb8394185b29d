#!/usr/bin/env python3
"""kiln beside its peers on the CPU: the course's five models, same machine, same run.

    python3 bench/models_vs_peers.py [--models M ...] [--threads 1 2] [--repeats 3] [--seconds 2]
                                     [--build build] [--venv build-peers/venv] [--smoke]

Sides, each a separate process per model and thread count, alternating --repeats times (medians):
  kiln         <build>/bench/bench-models MODEL: training (the course's batch and optimizer), batch-1000
               inference, batch-1 latency, arenas; and one more run with --profile for the conv layers
  torch 1.13   Debian's python3-torch on OpenBLAS (bench/models_pytorch.py: training, inference, latency)
  torch 2      PyTorch 2.x from PyPI in the venv bench/setup-peers.sh makes (MKL, oneDNN)
  onnxruntime  the PyTorch definitions exported to ONNX, CPU provider, all graph optimisations,
               intra-op threads = kiln's (bench/models_onnx.py; inference only)
A peer that is not installed is skipped with the reason and the command that installs it.
The machine's FMA peak is measured in the same run (bench-gemm --peak, one core, at kiln's SIMD
width), before and after; every rate is also given as % of threads × that peak, from the arithmetic
bench-models counts (2 × the multiply-adds of every convolution, its gradients and every matmul, per
image) — the same network, so the same arithmetic for every side. Then the conv layers of kiln's
batch-1000 inference and training programs with their time and % of peak, and a verdict per target
of issue 14: inference >= 1.2x onnxruntime (batch-1 latency and batch-1000 throughput), training
>= 2x the faster PyTorch, resnet_mini's conv layers >= 70 % of peak in inference and >= 50 % in
training, TinyVGG's >= 40 % in inference.
--smoke runs everything once for a fraction of a second (CI: the programs and this script still
agree on their formats); its figures mean nothing.
The machine may be shared: each run reports the share of the CPUs other processes used meanwhile
(from /proc/stat, less our children's CPU time); above 10 % a figure is marked unreliable.
PyTorch and onnxruntime are dependencies of this benchmark only, never of kiln.
"""
import argparse
import os
import re
import resource
import shlex
import statistics
import subprocess
import sys
import time

MODELS = ["fmnist_linear", "fmnist_mlp", "tinyvgg", "lenet5", "resnet_mini"]
HERE = os.path.dirname(os.path.abspath(__file__))
BUSY = 0.1
OPENBLAS_DIR = "/usr/lib/x86_64-linux-gnu/openblas-openmp"
OPENBLAS_VARS = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")


class Side:
    """One implementation: how to run it for a model, or why it is skipped."""

    def __init__(self, name, cmd, env=None, skipped=None, trains=True, infers=True):
        self.name, self.cmd, self.env, self.skipped, self.trains, self.infers = name, cmd, env, skipped, trains, infers


def debian_torch():
    """Debian's torch 1.13 on OpenBLAS: its libblas.so.3 is the reference Netlib BLAS unless an
    optimised one comes first, which would make its Linear layers ~10x slower and flatter kiln; the
    OpenBLAS variables this machine's environment may set (for older OpenBLAS builds) are unset."""
    python = "/usr/bin/python3"
    env = dict(os.environ)
    env["LD_LIBRARY_PATH"] = os.pathsep.join(p for p in (OPENBLAS_DIR, env.get("LD_LIBRARY_PATH")) if p)
    for var in OPENBLAS_VARS:
        env.pop(var, None)
    install = "apt-get install -y python3-torch libopenblas0-openmp"
    if subprocess.run([python, "-c", "import torch"], env=env, capture_output=True).returncode != 0:
        return Side("torch 1.13", None, skipped=f"{python} cannot import torch (install: {install})")
    if not os.path.isdir(OPENBLAS_DIR):
        return Side("torch 1.13", None, skipped=f"{OPENBLAS_DIR} is missing: torch would run on the reference BLAS (install: {install})")
    return Side("torch 1.13", [python, os.path.join(HERE, "models_pytorch.py")], env)


def venv_environment(venv):
    """PyPI torch's libraries need the NVIDIA libraries bench/setup-peers.sh installed beside it."""
    python = os.path.join(venv, "bin", "python")
    if not os.access(python, os.X_OK):
        return python, None
    site = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    nvidia = os.path.join(site, "nvidia")
    libs = [os.path.join(nvidia, d, "lib") for d in sorted(os.listdir(nvidia))] if os.path.isdir(nvidia) else []
    env = dict(os.environ)
    env["LD_LIBRARY_PATH"] = os.pathsep.join(p for p in libs + ["/usr/local/cuda/lib64", env.get("LD_LIBRARY_PATH")] if p)
    return python, env


def pypi_torch(venv):
    python, env = venv_environment(venv)
    if env is None or subprocess.run([python, "-c", "import torch"], env=env, capture_output=True).returncode != 0:
        return Side("torch 2", None, skipped=f"no PyPI torch in {venv} (make it: bash bench/setup-peers.sh {venv})")
    return Side("torch 2", [python, os.path.join(HERE, "models_pytorch.py")], env)


def onnxruntime(venv, folder):
    python, env = venv_environment(venv)
    if env is None or subprocess.run([python, "-c", "import onnxruntime"], capture_output=True).returncode != 0:
        return Side("onnxruntime", None, skipped=f"no onnxruntime in {venv} (make it: bash bench/setup-peers.sh {venv})", trains=False)
    script = os.path.join(HERE, "models_onnx.py")
    if not all(os.path.exists(os.path.join(folder, f"{m}.onnx")) for m in MODELS):
        subprocess.run([python, script, "--export", folder], env=env, check=True, capture_output=True)
    return Side("onnxruntime", [python, script, "--onnx", folder], None, trains=False)


def busy_cpu_seconds():
    with open("/proc/stat") as f:
        user, nice, system, _idle, _iowait, irq, softirq = map(int, f.readline().split()[1:8])
    return (user + nice + system + irq + softirq) / os.sysconf("SC_CLK_TCK")


def children_cpu_seconds():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run(cmd, env=None):
    """(the key=value line as a dict, stderr, the share of the CPUs other processes used meanwhile)."""
    busy, ours, start = busy_cpu_seconds(), children_cpu_seconds(), time.perf_counter()
    done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"models_vs_peers: {shlex.join(cmd)} failed ({done.returncode}):\n{done.stderr}")
    wall = time.perf_counter() - start
    others = (busy_cpu_seconds() - busy) - (children_cpu_seconds() - ours)
    fields = {}
    for pair in done.stdout.split():
        key, value = pair.split("=", 1)
        fields[key] = value if key in ("model", "device") else float(value)
    return fields, done.stderr, max(0.0, others / (wall * os.cpu_count()))


def peak_gflops(build):
    out = subprocess.run([os.path.join(build, "bench", "bench-gemm"), "--peak"], capture_output=True, text=True, check=True).stdout
    return float(re.search(r"FMA peak, one thread: ([0-9.]+) GFLOP/s", out).group(1)), out.strip()


def conv_layers(stderr):
    """bench-models --profile's "layer program=… op=… gflop=… ms=… what=…" lines."""
    layers = []
    for line in stderr.splitlines():
        m = re.match(r"layer program=(\S+) op=(\S+) gflop=(\S+) ms=(\S+) what=(.*)$", line)
        if m and m.group(2).startswith("conv2d"):
            layers.append((m.group(1), m.group(2), float(m.group(3)), float(m.group(4)), m.group(5)))
    return layers


def fmt(v, digits=0):
    return "—" if v is None else f"{v:,.{digits}f}"


def table(header, rows):
    lines = [header] + rows
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    lines.insert(1, ["-" * w for w in widths])
    return "\n".join("| " + " | ".join(c.rjust(w) for c, w in zip(line, widths)) + " |" for line in lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", choices=MODELS, default=MODELS)
    parser.add_argument("--threads", nargs="+", type=int, default=[1, 2])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=2.0, help="measuring time per figure, per process")
    parser.add_argument("--build", default="build", help="kiln's Meson build folder")
    parser.add_argument("--venv", default="build-peers/venv", help="the venv bench/setup-peers.sh made")
    parser.add_argument("--smoke", action="store_true", help="once, briefly: checks the programs run and agree on formats")
    args = parser.parse_args()
    if args.smoke:
        args.repeats, args.seconds = 1, 0.05

    bench = os.path.join(args.build, "bench", "bench-models")
    if not os.access(bench, os.X_OK):
        sys.exit(f"models_vs_peers: {bench} is missing; build it with: ninja -C {args.build} bench/bench-models")
    onnx_folder = os.path.join(os.path.dirname(os.path.abspath(args.venv)), "onnx")
    sides = [Side("kiln", [bench]), debian_torch(), pypi_torch(args.venv), onnxruntime(args.venv, onnx_folder)]
    peak_before, peak_line = peak_gflops(args.build)
    with open("/proc/loadavg") as f:
        print(f"loadavg before: {f.read().strip()}; nproc {os.cpu_count()}")
    print(f"{peak_line} (bench-gemm --peak)")
    for side in sides:
        if side.skipped:
            print(f"skipped {side.name}: {side.skipped}")
        else:
            env = "" if side.env is None else f"LD_LIBRARY_PATH={shlex.quote(side.env['LD_LIBRARY_PATH'])} "
            print(f"{side.name}: {env}{shlex.join(side.cmd)} MODEL --threads N --seconds {args.seconds:g}")
    sides = [s for s in sides if not s.skipped]
    print("runs:", flush=True)

    results, layers, unreliable = {}, {}, set()
    for threads in args.threads:
        for model in args.models:
            runs = {s.name: [] for s in sides}
            for _ in range(args.repeats):
                for side in sides:
                    smoke = ["--smoke"] if args.smoke and side.name == "kiln" else []
                    fields, _, share = run(side.cmd + [model, "--threads", str(threads), "--seconds", f"{args.seconds:g}"] + smoke, side.env)
                    runs[side.name].append(fields)
                    if share > BUSY:
                        unreliable.add((model, threads))
                    shown = " ".join(f"{k}={v:.6g}" for k, v in fields.items() if isinstance(v, float))
                    print(f"    {threads} thr {side.name:11s} {model}: {shown}  (others: {share:.0%} of the CPUs)", flush=True)
            for name, r in runs.items():
                results[(name, model, threads)] = {k: statistics.median(f[k] for f in r) for k in r[0] if isinstance(r[0][k], float)}
            quick = ["--smoke"] if args.smoke else ["--seconds", "0.05"]  # the profile's own calls are what count
            _, stderr, _ = run([bench, model, "--threads", str(threads), "--profile"] + quick)
            layers[(model, threads)] = conv_layers(stderr)
    peak_after, _ = peak_gflops(args.build)
    peak = peak_before
    print(f"\nFMA peak, one core: {peak_before:.1f} GFLOP/s before the runs, {peak_after:.1f} after; "
          f"% of peak below are of threads × {peak:.1f}")

    def get(name, model, threads, key):
        return results.get((name, model, threads), {}).get(key)

    def pct(rate_img_s, gflop, threads):
        return None if rate_img_s is None else 100 * rate_img_s * gflop / (threads * peak)

    verdicts = []
    for threads in args.threads:
        rows = []
        for model in args.models:
            k = results[("kiln", model, threads)]
            t1, t2 = get("torch 1.13", model, threads, "train_img_s"), get("torch 2", model, threads, "train_img_s")
            faster = max([t for t in (t1, t2) if t], default=None)
            ort_lat, ort_img = get("onnxruntime", model, threads, "latency_us"), get("onnxruntime", model, threads, "infer_img_s")
            rows.append([model, fmt(k["train_img_s"]), fmt(t1), fmt(t2), fmt(faster and k["train_img_s"] / faster, 2) + "×",
                         fmt(pct(k["train_img_s"], k["train_gflop"], threads), 1), fmt(k["latency_us"], 1), fmt(ort_lat, 1),
                         fmt(ort_lat and ort_lat / k["latency_us"], 2) + "×", fmt(k["infer_img_s"]), fmt(ort_img),
                         fmt(ort_img and k["infer_img_s"] / ort_img, 2) + "×", fmt(pct(k["infer_img_s"], k["infer_gflop"], threads), 1),
                         fmt(pct(ort_img, k["infer_gflop"], threads), 1), f"{k['arena_infer1']:,.0f}"])
            if faster:
                verdicts.append((f"{model}, {threads} thr: training ≥ 2× the faster PyTorch", k["train_img_s"] / faster >= 2,
                                 f"{k['train_img_s'] / faster:.2f}×"))
            if ort_lat:
                verdicts.append((f"{model}, {threads} thr: batch-1 latency ≥ 1.2× onnxruntime", ort_lat / k["latency_us"] >= 1.2,
                                 f"{ort_lat / k['latency_us']:.2f}×"))
                verdicts.append((f"{model}, {threads} thr: batch-1000 ≥ 1.2× onnxruntime", k["infer_img_s"] / ort_img >= 1.2,
                                 f"{k['infer_img_s'] / ort_img:.2f}×"))
        print(f"\n{threads} thread{'s' if threads > 1 else ''}, medians of {args.repeats} alternating runs:")
        print(table(["model", "train img/s kiln", "torch 1.13", "torch 2", "kiln / faster torch", "kiln train % peak",
                     "batch-1 µs kiln", "onnxruntime", "ORT / kiln", "batch-1000 img/s kiln", "onnxruntime", "kiln / ORT",
                     "kiln infer % peak", "ORT % peak", "kiln batch-1 arena+weights B"], rows))

    for threads in args.threads:
        for model in args.models:
            convs = layers[(model, threads)]
            if not convs:
                continue
            print(f"\n{model}, {threads} thr: kiln's conv layers (per call; % of {threads} × peak)")
            rows = [[program, op, what, f"{ms:.3f}", f"{gflop / ms * 1e3:.1f}", f"{100 * gflop / ms * 1e3 / (threads * peak):.1f}"]
                    for program, op, gflop, ms, what in convs if program in ("infer1000", "train")]
            print(table(["program", "op", "layer", "ms", "GFLOP/s", "% peak"], rows))
            for program, target in (("infer1000", 70 if model == "resnet_mini" else 40 if model == "tinyvgg" else None),
                                    ("train", 50 if model == "resnet_mini" else None)):
                mine = [(g, ms) for p, _, g, ms, _ in convs if p == program]
                if target and mine:
                    share = 100 * sum(g for g, _ in mine) / (sum(ms for _, ms in mine) / 1e3) / (threads * peak)
                    verdicts.append((f"{model}, {threads} thr: conv layers in {program} ≥ {target} % of peak", share >= target,
                                     f"{share:.1f} % (all its conv layers together)"))

    print("\ntargets:")
    for what, ok, figure in verdicts:
        print(f"  {'met   ' if ok else 'MISSED'} {what}: {figure}")
    for model, threads in sorted(unreliable):
        print(f"UNRELIABLE: {model}, {threads} thr — other processes took > {BUSY:.0%} of the CPUs; rerun it on a quiet machine")
    with open("/proc/loadavg") as f:
        print(f"loadavg after: {f.read().strip()}")


if __name__ == "__main__":
    main()
