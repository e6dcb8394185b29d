#!/usr/bin/python3
"""The PyTorch side of bench-models: the course's five models in PyTorch on the CPU, measured as
bench/bench_models.cpp measures kiln's.

    /usr/bin/python3 bench/models_pytorch.py MODEL [--threads 2] [--seconds 2]
    /usr/bin/python3 bench/models_pytorch.py --info [--threads 2]

MODEL is fmnist_linear, fmnist_mlp, tinyvgg, lenet5 or resnet_mini. The modules carry the course's
attribute names, so their state_dict keys are kiln's (lib/kiln/nn/models.h): layer_stack.3.bias,
conv_block_1.2.weight, block2.0.shortcut.1.running_var, ... Data as in bench-models: random
x [B, 1, 28, 28] uniform in [0, 1) and labels 0..9, with the course's batch size and optimizer.
Each call first copies its batch into the input tensor, as bench-models writes kiln's.
  train_img_s   images/s of zero_grad + forward + CrossEntropyLoss + backward + step in train();
                one warm-up step, then steps for --seconds / 3; the median of 3 such runs
  infer_img_s   images/s of model(x) at batch 1000 in eval() under torch.inference_mode(), the same way
  latency_us    the median over 2000 calls of model(x) with one [1, 1, 28, 28] image (eval, inference_mode)
  peak_rss_mb   the process's VmHWM (Python and torch included), after all of the above
It prints one line of key=value pairs in bench-models' format, without its arena_* fields.
--info prints, instead, the torch version, the BLAS lines of torch.__config__.show(), the BLAS
libraries the process actually loaded, OpenBLAS's core type, and the time of a 1024x1024 matmul
(an optimised BLAS takes milliseconds, Debian's reference libblas ~0.5 s).

A benchmark-only script: torch is no dependency of kiln. bench/models_vs_peers.py runs it with the
environment that selects the BLAS (see its header).
"""
import argparse
import ctypes
import statistics
import sys
import time

import torch
from torch import nn

# model → (training batch, optimizer factory), as in bench_models.cpp's settings.
SETTINGS = {
    "fmnist_linear": (32, lambda p: torch.optim.SGD(p, lr=0.1)),
    "fmnist_mlp": (32, lambda p: torch.optim.SGD(p, lr=0.1)),
    "tinyvgg": (32, lambda p: torch.optim.SGD(p, lr=0.1)),
    "lenet5": (1024, lambda p: torch.optim.Adam(p, lr=0.005)),
    "resnet_mini": (128, lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9)),
}


class FashionMNISTModelV0(nn.Module):
    def __init__(self, input_shape=784, hidden_units=10, output_shape=10):
        super().__init__()
        self.layer_stack = nn.Sequential(nn.Flatten(), nn.Linear(input_shape, hidden_units),
                                         nn.Linear(hidden_units, output_shape))

    def forward(self, x):
        return self.layer_stack(x)


class FashionMNISTModelV1(nn.Module):
    def __init__(self, input_shape=784, hidden_units=10, output_shape=10):
        super().__init__()
        self.layer_stack = nn.Sequential(nn.Flatten(), nn.Linear(input_shape, hidden_units), nn.ReLU(),
                                         nn.Linear(hidden_units, output_shape), nn.ReLU())

    def forward(self, x):
        return self.layer_stack(x)


class TinyVGG(nn.Module):
    def __init__(self, input_shape=1, hidden_units=10, output_shape=10):
        super().__init__()

        def conv_block(in_channels):
            return nn.Sequential(nn.Conv2d(in_channels, hidden_units, 3, padding=1), nn.ReLU(),
                                 nn.Conv2d(hidden_units, hidden_units, 3, padding=1), nn.ReLU(),
                                 nn.MaxPool2d(2))

        self.conv_block_1 = conv_block(input_shape)
        self.conv_block_2 = conv_block(hidden_units)
        self.classifier = nn.Sequential(nn.Flatten(), nn.Linear(hidden_units * 7 * 7, output_shape))

    def forward(self, x):
        return self.classifier(self.conv_block_2(self.conv_block_1(x)))


class LeNet5(nn.Module):
    def __init__(self, output_shape=10):
        super().__init__()
        self.c1 = nn.Conv2d(1, 6, 5, padding=2)
        self.p1 = nn.AvgPool2d(2)
        self.c2 = nn.Conv2d(6, 16, 5)
        self.p2 = nn.AvgPool2d(2)
        self.f1 = nn.Linear(16 * 5 * 5, 120)
        self.f2 = nn.Linear(120, 84)
        self.f3 = nn.Linear(84, output_shape)

    def forward(self, x):
        x = self.p1(torch.sigmoid(self.c1(x)))
        x = self.p2(torch.sigmoid(self.c2(x)))
        x = torch.flatten(x, 1)
        x = torch.sigmoid(self.f1(x))
        x = torch.sigmoid(self.f2(x))
        return self.f3(x)


class BasicBlock(nn.Module):
    def __init__(self, in_channels, out_channels, stride=1):
        super().__init__()
        self.conv1 = nn.Sequential(nn.Conv2d(in_channels, out_channels, 3, stride, 1, bias=False),
                                   nn.BatchNorm2d(out_channels), nn.ReLU())
        self.conv2 = nn.Sequential(nn.Conv2d(out_channels, out_channels, 3, 1, 1, bias=False),
                                   nn.BatchNorm2d(out_channels))
        self.shortcut = nn.Sequential()
        if stride != 1 or in_channels != out_channels:
            self.shortcut = nn.Sequential(nn.Conv2d(in_channels, out_channels, 3, stride, 1),
                                          nn.BatchNorm2d(out_channels))

    def forward(self, x):
        return torch.relu(self.conv2(self.conv1(x)) + self.shortcut(x))


class ResNetMini(nn.Module):
    def __init__(self, input_shape=1, output_shape=10):
        super().__init__()
        self.conv1 = nn.Sequential(nn.Conv2d(input_shape, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU())
        self.maxpool = nn.MaxPool2d(3, 1, 1)
        self.block1 = nn.Sequential(BasicBlock(16, 16))
        self.block2 = nn.Sequential(BasicBlock(16, 32, 2))
        self.block3 = nn.Sequential(BasicBlock(32, 64, 2))
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.outlayer = nn.Linear(64, output_shape)

    def forward(self, x):
        x = self.block3(self.block2(self.block1(self.maxpool(self.conv1(x)))))
        return self.outlayer(torch.flatten(self.avgpool(x), 1))


MODELS = {"fmnist_linear": FashionMNISTModelV0, "fmnist_mlp": FashionMNISTModelV1, "tinyvgg": TinyVGG,
          "lenet5": LeNet5, "resnet_mini": ResNetMini}


def rate(seconds, f):
    """Calls f repeatedly for about `seconds` (at least 3 times) after one warm-up call; calls per second."""
    f()
    calls = 0
    start = time.perf_counter()
    elapsed = 0.0
    while calls < 3 or elapsed < seconds:
        f()
        calls += 1
        elapsed = time.perf_counter() - start
    return calls / elapsed


def batch(n):
    return torch.rand(n, 1, 28, 28), torch.randint(0, 10, (n,))


def peak_rss_mb():
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return -1.0


def measure(name, seconds):
    train_batch, make_optimizer = SETTINGS[name]
    torch.manual_seed(42)
    model = MODELS[name]()
    optimizer = make_optimizer(model.parameters())
    loss_fn = nn.CrossEntropyLoss()

    # Every call first writes its batch into the tensor the model reads, as bench-models writes
    # kiln's into the program's input (what a loader's batch costs either way).
    source, y = batch(train_batch)
    x = torch.empty_like(source)
    model.train()

    def train_step():
        x.copy_(source)
        optimizer.zero_grad()
        loss_fn(model(x), y).backward()
        optimizer.step()

    train = [rate(seconds / 3, train_step) * train_batch for _ in range(3)]

    model.eval()
    with torch.inference_mode():
        source, _ = batch(1000)
        x = torch.empty_like(source)
        infer = [rate(seconds / 3, lambda: model(x.copy_(source))) * 1000 for _ in range(3)]
        source, _ = batch(1)
        x = torch.empty_like(source)
        us = []
        for _ in range(2000):
            start = time.perf_counter()
            model(x.copy_(source))
            us.append((time.perf_counter() - start) * 1e6)

    return (f"model={name} batch={train_batch} threads={torch.get_num_threads()} "
            f"train_img_s={statistics.median(train):.0f} infer_img_s={statistics.median(infer):.0f} "
            f"latency_us={statistics.median(us):.1f} peak_rss_mb={peak_rss_mb():.1f}")


def loaded_blas():
    """The BLAS/LAPACK shared libraries mapped into this process."""
    with open("/proc/self/maps") as maps:
        paths = {line.split()[-1] for line in maps if "/" in line}
    return sorted(p for p in paths if "blas" in p.lower() or "lapack" in p.lower() or "mkl" in p.lower())


def openblas_core():
    try:
        lib = ctypes.CDLL("libopenblas.so.0")
    except OSError:
        return "none"
    lib.openblas_get_corename.restype = ctypes.c_char_p
    return lib.openblas_get_corename().decode()


def info():
    a, b = torch.rand(1024, 1024), torch.rand(1024, 1024)
    a @ b
    start = time.perf_counter()
    for _ in range(5):
        a @ b
    matmul_ms = (time.perf_counter() - start) / 5 * 1e3
    config = [part.strip() for line in torch.__config__.show().splitlines() for part in line.split(",")
              if "BLAS" in part.upper() or "LAPACK" in part.upper()]
    print(f"torch {torch.__version__} ({torch.__file__}), threads={torch.get_num_threads()}")
    print(f"torch.__config__.show(): {', '.join(config)}")
    print(f"loaded: {' '.join(loaded_blas()) or 'no BLAS library mapped'}")
    print(f"OpenBLAS core type: {openblas_core()}; 1024x1024 f32 matmul: {matmul_ms:.1f} ms")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model", nargs="?", choices=sorted(MODELS))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--info", action="store_true", help="describe torch and its BLAS, then exit")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.info:
        info()
    elif args.model:
        print(measure(args.model, args.seconds), flush=True)
    else:
        parser.error("MODEL or --info is needed")


if __name__ == "__main__":
    sys.exit(main())
