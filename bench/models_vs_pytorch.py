#!/usr/bin/python3
"""kiln's bench-models beside PyTorch on the CPU: the course's five models, same machine, same run.

    python3 bench/models_vs_pytorch.py [--models M ...] [--repeats 3] [--seconds 2] [--build build]
                                       [--threads 2] [--python /usr/bin/python3]

For each model it runs <build>/bench/bench-models MODEL and bench/models_pytorch.py MODEL as separate
processes (one model per process, so peak RSS is that model's), alternating kiln and torch --repeats
times, and takes the median of each figure. Both get the same thread count, batch sizes, optimizers
and data shapes (random x [B, 1, 28, 28] in [0, 1), labels 0..9; see the two programs' headers).
The table gives, per model: training images/s (the course's batch), inference images/s at batch
1000, batch-1 latency, peak RSS (torch's includes the Python interpreter and libtorch), kiln's arena
bytes, and the kiln/torch ratios; then one verdict line per model against the targets: training
ratio >= 1.0 and batch-1 latency at least 2x torch's. Before the table: /proc/loadavg, nproc, the
CPU, torch's version and the BLAS it loaded, and the exact commands; after it, /proc/loadavg again.
The machine may be shared, and the load average counts the benchmark's own two busy threads, so
each run also reports the share of the CPUs' time that other processes used while it ran (from
/proc/stat, less the children's own CPU time). Above ~10% the figures are unreliable: torch's OpenMP
threads, in particular, slow down many-fold when a core is taken from them.

PyTorch is a dependency of this benchmark only, never of kiln. Debian's python3-torch (1.13.1)
links libblas.so.3, which is Debian's reference Netlib BLAS unless an optimised one is selected;
with it torch's Linear layers run ~10x slower and would flatter kiln. So:
    apt-get install -y python3-torch libopenblas0-openmp
and this script puts /usr/lib/x86_64-linux-gnu/openblas-openmp first on LD_LIBRARY_PATH for the
torch process only (whatever update-alternatives selects system-wide), and prints which BLAS the
process really mapped and how long a 1024x1024 matmul takes (ms with OpenBLAS, ~0.5 s without).
For a PyPI torch (its own MKL/OpenBLAS inside), pass --python with that interpreter.

OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE: this machine's environment may set them (Haswell, 512), for
older OpenBLAS builds that misdetect the CPU. The torch process runs with BOTH UNSET. Checked on
the AMD EPYC (AVX-512) machine this was written on, with Debian's OpenBLAS 0.3.21 at 2 threads:
unset, OpenBLAS detects Cooperlake instead of the forced Haswell kernels, a 1024x1024 f32 matmul
drops from ~11 ms to ~7 ms, and five training steps of each model then agree with the reference
BLAS as closely as with the variables set (max |logit difference| 8e-7, 2e-4 for resnet_mini,
whose BN amplifies rounding under lr 0.1 momentum 0.9). On the models themselves the difference is
mostly within run-to-run noise, with torch's lenet5 batch-1 latency 10-20% lower unset (116-133 us
against 140-145 us); keeping the variables would, if anything, flatter kiln. kiln's process keeps the environment as it is (kiln does not use OpenBLAS).
"""
import argparse
import os
import resource
import shlex
import statistics
import subprocess
import sys
import time

MODELS = ["fmnist_linear", "fmnist_mlp", "tinyvgg", "lenet5", "resnet_mini"]
OPENBLAS_DIR = "/usr/lib/x86_64-linux-gnu/openblas-openmp"
OPENBLAS_VARS = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
INSTALL = "apt-get install -y python3-torch libopenblas0-openmp"
BUSY = 0.1  # other processes' share of the CPUs above which a run's figures are unreliable
HERE = os.path.dirname(os.path.abspath(__file__))


def torch_environment():
    env = dict(os.environ)
    env["LD_LIBRARY_PATH"] = os.pathsep.join(p for p in (OPENBLAS_DIR, env.get("LD_LIBRARY_PATH")) if p)
    for var in OPENBLAS_VARS:
        env.pop(var, None)
    return env


def shown(cmd, env=None):
    """cmd as a shell line, with the environment changes made for it."""
    prefix = ""
    if env is not None:
        unset = [f"-u {v}" for v in OPENBLAS_VARS if v in os.environ]
        prefix = f"env {' '.join(unset)} LD_LIBRARY_PATH={shlex.quote(env['LD_LIBRARY_PATH'])} "
    return prefix + " ".join(shlex.quote(c) for c in cmd)


def check_prerequisites(bench, python, env):
    if not os.access(bench, os.X_OK):
        sys.exit(f"models_vs_pytorch: {bench} is missing; build it with: ninja -C {os.path.dirname(os.path.dirname(bench))} bench/bench-models")
    if subprocess.run([python, "-c", "import torch"], env=env, capture_output=True).returncode != 0:
        sys.exit(f"models_vs_pytorch: {python} cannot import torch; this benchmark (only it, not kiln) needs:\n"
                 f"    {INSTALL}\n(or a PyPI torch: pass its interpreter with --python)")
    if not os.path.isdir(OPENBLAS_DIR):
        print(f"warning: {OPENBLAS_DIR} is missing: Debian's torch may run on the reference BLAS; install it with:\n"
              f"    {INSTALL}\n", flush=True)


def load_average():
    with open("/proc/loadavg") as f:
        return f.read().strip()


def cpu_model():
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return "unknown"


def busy_cpu_seconds():
    """CPU time all processes have used since boot (user, nice, system, irq, softirq of /proc/stat)."""
    with open("/proc/stat") as f:
        user, nice, system, _idle, _iowait, irq, softirq = map(int, f.readline().split()[1:8])
    return (user + nice + system + irq + softirq) / os.sysconf("SC_CLK_TCK")


def children_cpu_seconds():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run(cmd, env=None):
    """(the key=value line a benchmark prints as a dict of floats (model: str), the share of the
    machine's CPU time other processes used meanwhile)."""
    busy, ours, start = busy_cpu_seconds(), children_cpu_seconds(), time.perf_counter()
    out = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True).stdout
    wall = time.perf_counter() - start
    others = (busy_cpu_seconds() - busy) - (children_cpu_seconds() - ours)
    fields = dict(pair.split("=", 1) for pair in out.split())
    return {k: (v if k == "model" else float(v)) for k, v in fields.items()}, max(0.0, others / (wall * os.cpu_count()))


def medians(runs):
    return {k: statistics.median(r[k] for r in runs) for k in runs[0] if k != "model"}


def table(rows):
    header = ["model", "kiln train img/s", "torch train img/s", "ratio", "kiln infer b1000 img/s", "torch",
              "ratio", "kiln latency b1 µs", "torch", "speed-up", "kiln peak RSS MB", "torch",
              "kiln arena train b32 / b128 / infer b1 (bytes)"]
    lines = [header]
    for model, k, t, _ in rows:
        lines.append([model, f"{k['train_img_s']:.0f}", f"{t['train_img_s']:.0f}",
                      f"{k['train_img_s'] / t['train_img_s']:.2f}", f"{k['infer_img_s']:.0f}",
                      f"{t['infer_img_s']:.0f}", f"{k['infer_img_s'] / t['infer_img_s']:.2f}",
                      f"{k['latency_us']:.1f}", f"{t['latency_us']:.1f}",
                      f"{t['latency_us'] / k['latency_us']:.2f}x", f"{k['peak_rss_mb']:.1f}",
                      f"{t['peak_rss_mb']:.1f}",
                      f"{k['arena_train32']:.0f} / {k['arena_train128']:.0f} / {k['arena_infer1']:.0f}"])
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    lines.insert(1, ["-" * w for w in widths])
    return "\n".join("| " + " | ".join(c.rjust(w) for c, w in zip(line, widths)) + " |" for line in lines)


def verdict(model, k, t, others):
    train = k["train_img_s"] / t["train_img_s"]
    speedup = t["latency_us"] / k["latency_us"]
    ok = train >= 1.0 and speedup >= 2.0
    return (f"{model}: {'meets' if ok else 'MISSES'} the targets "
            f"(training ratio {train:.2f} {'>=' if train >= 1.0 else '<'} 1.0, "
            f"batch-1 latency {speedup:.2f}x torch's {'>=' if speedup >= 2.0 else '<'} 2x)"
            f"{'; UNRELIABLE: other processes took' if others > BUSY else '; other processes took at most'} "
            f"{others:.0%} of the CPUs during its runs")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", choices=MODELS, default=MODELS)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=2.0, help="measuring time per figure, per process")
    parser.add_argument("--build", default="build", help="kiln's Meson build folder")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--python", default="/usr/bin/python3", help="the interpreter that has torch")
    args = parser.parse_args()

    bench = os.path.join(args.build, "bench", "bench-models")
    env = torch_environment()
    check_prerequisites(bench, args.python, env)
    common = ["--threads", str(args.threads), "--seconds", f"{args.seconds:g}"]

    def kiln_cmd(model):
        return [bench, model, *common]

    def torch_cmd(model):
        return [args.python, os.path.join(HERE, "models_pytorch.py"), model, *common]

    print(f"loadavg before: {load_average()}")
    print(f"nproc: {os.cpu_count()}; CPU: {cpu_model()}")
    info = subprocess.run([args.python, os.path.join(HERE, "models_pytorch.py"), "--info", "--threads",
                           str(args.threads)], env=env, check=True, capture_output=True, text=True).stdout
    print(info, end="")
    print(f"commands ({args.repeats} times per model, alternating, MODEL in {' '.join(args.models)}):")
    print(f"    kiln:  {shown(kiln_cmd('MODEL'))}")
    print(f"    torch: {shown(torch_cmd('MODEL'), env)}")
    print("runs:", flush=True)

    rows = []
    for model in args.models:
        kiln_runs, torch_runs, others = [], [], []
        for _ in range(args.repeats):
            for runs, cmd, cmd_env, side in ((kiln_runs, kiln_cmd(model), None, "kiln "),
                                             (torch_runs, torch_cmd(model), env, "torch")):
                fields, share = run(cmd, cmd_env)
                runs.append(fields)
                others.append(share)
                line = " ".join(f"{k}={v:.10g}" for k, v in fields.items() if k != "model")
                print(f"    {side} {model}: {line}  (other processes: {share:.0%} of the CPUs)", flush=True)
        rows.append((model, medians(kiln_runs), medians(torch_runs), max(others)))

    print(f"\nmedians of {args.repeats} runs, {args.threads} threads:")
    print(table(rows))
    print(f"\nloadavg after: {load_average()}")
    for row in rows:
        print(verdict(*row))
    if any(others > BUSY for *_, others in rows):
        print("a busy machine makes the figures unreliable: rerun the UNRELIABLE models (--models ...) when it is idle")


if __name__ == "__main__":
    main()
