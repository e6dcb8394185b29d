#!/usr/bin/env python3
"""The onnxruntime side of bench-models: the course's five models (bench/models_pytorch.py's PyTorch
definitions, exported with torch.onnx.export, opset 17) run by onnxruntime's CPU provider with every
graph optimisation, intra-op threads = --threads, inter-op threads 1, measured as bench-models
measures kiln's inference:
    build-peers/venv/bin/python bench/models_onnx.py --export FOLDER        # FOLDER/MODEL.onnx, all five
    build-peers/venv/bin/python bench/models_onnx.py MODEL --onnx FOLDER [--threads 2] [--seconds 2]
    build-peers/venv/bin/python bench/models_onnx.py --info
    build-peers/venv/bin/python bench/models_onnx.py --quantize FOLDER --calibration FILE   # FOLDER/MODEL.int8.onnx
    build-peers/venv/bin/python bench/models_onnx.py MODEL --onnx FOLDER --int8 [...]        # measures MODEL.int8.onnx
--quantize makes each exported model's int8 form with onnxruntime.quantization.quantize_static: QDQ,
int8 activations and weights, weights per channel, min/max calibration on FILE's raw f32 images
[n, 1, 28, 28] (bench/int8_vs_peers.py writes it; kiln's int8 model calibrates on the same).
Each call first copies its batch into the input array, as bench-models writes kiln's.
  infer_img_s   images/s of session.run at batch 1000 (random x in [0, 1)), median of 3 runs of --seconds / 3
  latency_us    the median over 2000 calls of session.run with one [1, 1, 28, 28] image
  peak_rss_mb   the process's VmHWM (Python and onnxruntime; torch is imported only to export)
It prints one line of key=value pairs in bench-models' format. The models are exported with a
dynamic batch dimension, in eval mode (BatchNorm's running statistics). A benchmark-only script: bench/setup-peers.sh makes its environment, bench/models_vs_peers.py runs it.
"""
import argparse
import os
import statistics
import sys
import time

import warnings

import numpy as np
import onnxruntime as ort

MODELS = ["fmnist_linear", "fmnist_mlp", "tinyvgg", "lenet5", "resnet_mini"]


def rate(seconds, f):
    """Calls f repeatedly for about `seconds` (at least 3 times) after one warm-up call; calls per second."""
    f()
    calls, start, elapsed = 0, time.perf_counter(), 0.0
    while calls < 3 or elapsed < seconds:
        f()
        calls += 1
        elapsed = time.perf_counter() - start
    return calls / elapsed


def peak_rss_mb():
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return -1.0


def export(folder):
    import torch
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from models_pytorch import MODELS as TORCH_MODELS
    os.makedirs(folder, exist_ok=True)
    warnings.simplefilter("ignore")  # the legacy exporter's deprecation notice
    for name in MODELS:
        torch.manual_seed(42)
        model = TORCH_MODELS[name]().eval()
        torch.onnx.export(model, (torch.rand(1, 1, 28, 28),), os.path.join(folder, f"{name}.onnx"), opset_version=17,
                          dynamo=False, input_names=["x"], output_names=["logits"],
                          dynamic_axes={"x": {0: "batch"}, "logits": {0: "batch"}})
    print(f"exported {' '.join(MODELS)} to {folder} with torch {torch.__version__}")


def quantize(folder, calibration):
    from onnxruntime import quantization as q
    images = np.fromfile(calibration, dtype=np.float32).reshape(-1, 1, 28, 28)

    class Reader(q.CalibrationDataReader):
        def __init__(self):
            self.batches = iter([{"x": images[i:i + 100]} for i in range(0, len(images), 100)])

        def get_next(self):
            return next(self.batches, None)

    for name in MODELS:
        source, prepared = os.path.join(folder, f"{name}.onnx"), os.path.join(folder, f"{name}.prep.onnx")
        q.shape_inference.quant_pre_process(source, prepared)
        q.quantize_static(prepared, os.path.join(folder, f"{name}.int8.onnx"), Reader(), quant_format=q.QuantFormat.QDQ,
                          activation_type=q.QuantType.QInt8, weight_type=q.QuantType.QInt8, per_channel=True,
                          calibrate_method=q.CalibrationMethod.MinMax)
    print(f"quantized {' '.join(MODELS)} in {folder} with onnxruntime {ort.__version__} on {len(images)} images")


def session(name, threads, folder, int8=False):
    path = os.path.join(folder, f"{name}.int8.onnx" if int8 else f"{name}.onnx")
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    return ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])


def measure(name, folder, threads, seconds, int8=False):
    rng = np.random.default_rng(7)
    s = session(name, threads, folder, int8)
    # Every call first writes its batch into the array the session reads, as bench-models writes
    # kiln's into the program's input (what a loader's batch costs either way).
    source = rng.random((1000, 1, 28, 28), dtype=np.float32)
    x = np.empty_like(source)

    def call():
        np.copyto(x, source)
        return s.run(None, {"x": x})

    infer = [rate(seconds / 3, call) * 1000 for _ in range(3)]
    source = rng.random((1, 1, 28, 28), dtype=np.float32)
    x = np.empty_like(source)
    us = []
    for _ in range(2000):
        start = time.perf_counter()
        call()
        us.append((time.perf_counter() - start) * 1e6)
    return (f"model={name} threads={threads} infer_img_s={statistics.median(infer):.0f} "
            f"latency_us={statistics.median(us):.1f} peak_rss_mb={peak_rss_mb():.1f}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model", nargs="?", choices=MODELS)
    parser.add_argument("--onnx", help="the folder --export wrote")
    parser.add_argument("--export", metavar="FOLDER", help="export the five models to FOLDER, then exit")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--info", action="store_true", help="print onnxruntime's version and providers, then exit")
    parser.add_argument("--quantize", metavar="FOLDER", help="quantize the models --export wrote to FOLDER, then exit")
    parser.add_argument("--calibration", metavar="FILE", help="--quantize: raw f32 images [n, 1, 28, 28]")
    parser.add_argument("--int8", action="store_true", help="measure MODEL.int8.onnx")
    args = parser.parse_args()
    if args.info:
        print(f"onnxruntime {ort.__version__} ({', '.join(ort.get_available_providers())})")
    elif args.export:
        export(args.export)
    elif args.quantize and args.calibration:
        quantize(args.quantize, args.calibration)
    elif args.model and args.onnx:
        print(measure(args.model, args.onnx, args.threads, args.seconds, args.int8), flush=True)
    else:
        parser.error("MODEL --onnx FOLDER, --export FOLDER or --info is needed")


if __name__ == "__main__":
    sys.exit(main())
