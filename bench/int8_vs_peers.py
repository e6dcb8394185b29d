#!/usr/bin/env python3
"""int8 inference beside float and beside onnxruntime's int8, same machine, same run (issue 15):

    python3 bench/int8_vs_peers.py [--models M ...] [--threads 1 2] [--repeats 3] [--seconds 2]
                                   [--build build] [--venv build-peers/venv] [--smoke]

The calibration images are the first 100 Fashion-MNIST training images (Debian's
dataset-fashion-mnist) / 255, written once as raw f32; both sides calibrate on them with min/max.
Sides, a process per model and thread count, alternating --repeats times (medians):
  kiln         <build>/bench/bench-int8 MODEL: the float model and its int8 form (kiln/quant), batch-1000
               images/s, batch-1 latency, the batch-1 program's weights and arena
  onnxruntime  the same network's ONNX export quantized by onnxruntime.quantization.quantize_static
               (QDQ, int8 activations and per-channel weights; bench/models_onnx.py --quantize), CPU
               provider, all graph optimisations, intra-op threads = kiln's
The machine's FMA peak (bench-gemm --peak) is measured in the same run; rates are also given as %
of threads × that peak (float multiply-adds: int8 instructions do 4× more, so int8 can pass 100 %).
Verdicts for issue 15's targets: int8 resnet_mini batch 1000 >= 1.5x kiln float and >= 1.2x
onnxruntime int8; weights and arena <= 1/4 of float.
--smoke runs everything once for a fraction of a second (CI); its figures mean nothing.
"""
import argparse
import gzip
import os
import statistics
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from models_vs_peers import fmt, peak_gflops, run, table, venv_environment  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
MODELS = ["tinyvgg", "lenet5", "resnet_mini"]
FMNIST = "/usr/share/datasets/fashion-mnist"


def calibration_images(path, n=100):
    """The first n training images / 255 as raw f32 [n, 1, 28, 28]."""
    for name in ("train-images-idx3-ubyte", "train-images-idx3-ubyte.gz"):
        source = os.path.join(FMNIST, name)
        if os.path.exists(source):
            data = (gzip.open if name.endswith(".gz") else open)(source, "rb").read()
            break
    else:
        sys.exit(f"int8_vs_peers: no Fashion-MNIST in {FMNIST} (apt-get install dataset-fashion-mnist)")
    pixels = data[16:16 + n * 784]
    import array
    floats = array.array("f", (p / 255.0 for p in pixels))
    with open(path, "wb") as f:
        floats.tofile(f)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", default=MODELS, choices=MODELS)
    parser.add_argument("--threads", nargs="+", type=int, default=[1, 2])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--build", default="build")
    parser.add_argument("--venv", default="build-peers/venv", help="the venv bench/setup-peers.sh made")
    parser.add_argument("--smoke", action="store_true")
    args = parser.parse_args()
    if args.smoke:
        args.repeats, args.threads = 1, [1]

    work = os.path.join(os.path.dirname(os.path.abspath(args.venv)), "int8")
    os.makedirs(work, exist_ok=True)
    calibration = os.path.join(work, "calibration.f32")
    calibration_images(calibration)
    kiln = [os.path.join(args.build, "bench", "bench-int8")]
    python, env = venv_environment(args.venv)
    ort = None
    if env is not None and subprocess.run([python, "-c", "import onnxruntime"], capture_output=True).returncode == 0:
        script = os.path.join(HERE, "models_onnx.py")
        subprocess.run([python, script, "--export", work], env=env, check=True, capture_output=True)
        subprocess.run([python, script, "--quantize", work, "--calibration", calibration], env=env, check=True, capture_output=True)
        ort = [python, script, "--onnx", work, "--int8"]
    else:
        print(f"onnxruntime: skipped — not in {args.venv} (make it: bash bench/setup-peers.sh {args.venv})")

    peak, peak_line = peak_gflops(args.build)
    print(f"{peak_line} (bench-gemm --peak)")
    seconds = ["--seconds", "0.05" if args.smoke else str(args.seconds)]
    results = {}
    for model in args.models:
        for threads in args.threads:
            runs = {"kiln": [], "ort": []}
            for _ in range(args.repeats):
                runs["kiln"].append(run(kiln + [model, "--calibration", calibration, "--threads", str(threads)] + seconds
                                        + (["--smoke"] if args.smoke else []))[0])
                if ort:
                    runs["ort"].append(run(ort[:2] + [model] + ort[2:] + ["--threads", str(threads)] + seconds, env)[0])
            results[(model, threads)] = runs

    def median(runs, side, key):
        return statistics.median(r[key] for r in runs[side]) if runs[side] else None


    rows, verdicts = [], []
    for (model, threads), runs in results.items():
        one = runs["kiln"][0]
        med = lambda side, key: median(runs, side, key)  # noqa: E731
        f, q, o = med("kiln", "float_infer_img_s"), med("kiln", "int8_infer_img_s"), med("ort", "infer_img_s")
        share = lambda r: 100 * r * one["infer_gflop"] / (threads * peak)  # noqa: E731
        rows.append([model, str(threads), fmt(f), fmt(q), fmt(o), f"{q / f:.2f}×", f"{q / o:.2f}×" if o else "—",
                     f"{share(f):.1f} / {share(q):.1f}",
                     f"{med('kiln', 'float_latency_us'):.1f} / {med('kiln', 'int8_latency_us'):.1f} / "
                     + (f"{med('ort', 'latency_us'):.1f}" if o else "—"),
                     f"{one['float_weights']:,.0f} → {one['int8_weights']:,.0f} ({100 * one['int8_weights'] / one['float_weights']:.1f} %)",
                     f"{one['float_arena']:,.0f} → {one['int8_arena']:,.0f} ({100 * one['int8_arena'] / one['float_arena']:.1f} %)"])
        if model == "resnet_mini":
            verdicts.append((f"resnet_mini, {threads} thr: int8 batch 1000 >= 1.5x kiln float", q >= 1.5 * f, f"{q / f:.2f}×"))
            if o:
                verdicts.append((f"resnet_mini, {threads} thr: int8 batch 1000 >= 1.2x onnxruntime int8", q >= 1.2 * o, f"{q / o:.2f}×"))
            verdicts.append(("resnet_mini: int8 weights <= 1/4 of float", 4 * one["int8_weights"] <= one["float_weights"],
                             f"{100 * one['int8_weights'] / one['float_weights']:.1f} %"))
            verdicts.append(("resnet_mini: int8 arena <= 1/4 of float", 4 * one["int8_arena"] <= one["float_arena"],
                             f"{100 * one['int8_arena'] / one['float_arena']:.1f} %"))
    print()
    print(table(["model", "thr", "b1000 img/s kiln f32", "kiln int8", "ORT int8", "int8 / f32", "kiln / ORT int8",
                 "% peak f32 / int8", "batch-1 µs f32 / int8 / ORT int8", "batch-1 weights B", "batch-1 arena B"], rows))
    print()
    for what, ok, figure in dict.fromkeys(verdicts):
        print(f"{'met   ' if ok else 'MISSED'} {what}: {figure}")


if __name__ == "__main__":
    main()
