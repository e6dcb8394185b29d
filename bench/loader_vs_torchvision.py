#!/usr/bin/python3
"""kiln's DataLoader beside torchvision's, in one run, on the same data and the same machine.

    /usr/bin/python3 bench/loader_vs_torchvision.py [--build build] [--epochs 5] [--images 3000]

Cases (batches of 128, shuffled, every figure the median of --epochs epochs after a warm-up epoch):
 (a) Fashion-MNIST's 60000 training images, u8 28x28 -> f32 [128, 1, 28, 28], at 0, 1 and 2
     workers. kiln: build/bench/bench-loader over the idx plugin, empty pipeline (the loader does
     ToTensor's v / 255). torchvision: its own datasets.FashionMNIST class with
     transform=ToTensor(), pointed at a temporary root holding the raw IDX files decompressed from
     /usr/share/datasets/fashion-mnist. That is the code a course runs: per sample, a PIL image from
     the u8 array, then ToTensor. (A TensorDataset of pre-converted f32 tensors would measure
     indexing, not loading.) Decompression is outside the timing on both sides.
 (b) An ImageFolder tree this script writes: --images Fashion-MNIST test images, upscaled to
     --size px and made RGB (the image and two mirrored copies as the channels), saved as JPEG
     (quality 90) in one folder per class. At 2 workers: kiln's imagefolder plugin with the pipeline
     trivial_augment_wide;resize=64x64;to_tensor, beside torchvision's ImageFolder with
     Compose([TrivialAugmentWide(), Resize((64, 64)), ToTensor()]); and both with decoding and
     ToTensor only, to show what the decoding alone costs.
torch's DataLoader runs with persistent_workers=True (its workers start once, as kiln's do, instead
of at every epoch) and torch.set_num_threads(2) in the main process.

torchvision is a dependency of this benchmark only, not of kiln: Debian's python3-torchvision
(apt-get install -y python3-torchvision, which brings python3-torch 1.13). The script checks for it
and says how to install it when it is missing; it runs with Debian's /usr/bin/python3.

The machine may be shared: the table gives the 1-minute load average as each case started, and the
kiln side's CPU time per image, which a busy machine disturbs less than wall-clock rates.
"""
import argparse
import gzip
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

FASHION = "/usr/share/datasets/fashion-mnist"
BATCH = 128
AUGMENTED = "trivial_augment_wide;resize=64x64;to_tensor"


def require_torchvision():
    try:
        import torch  # noqa: F401
        import torchvision  # noqa: F401
    except ImportError as e:
        sys.exit(f"loader_vs_torchvision: {e}; this benchmark (only it, not kiln) needs Debian's torchvision:\n"
                 f"    apt-get install -y python3-torchvision    # brings python3-torch 1.13\n"
                 f"and runs with /usr/bin/python3 (now: {sys.executable})")


def load_average(fields=1):
    """The first `fields` of 1, 5 and 15-minute load averages."""
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:fields])


def kiln_rates(bench, dataset, pipeline, workers, epochs):
    """(images/s, CPU µs/image) from bench-loader --tsv."""
    cmd = [bench, "--dataset", dataset, "--pipeline", pipeline, "--batch", str(BATCH), "--workers", str(workers),
           "--api", "next", "--epochs", str(epochs), "--tsv"]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    _, _, images_per_s, _, cpu_us = out.strip().split("\t")
    return float(images_per_s), float(cpu_us)


def torch_rate(dataset, workers, epochs):
    import torch
    loader = torch.utils.data.DataLoader(dataset, batch_size=BATCH, shuffle=True, num_workers=workers,
                                         persistent_workers=workers > 0)
    seconds = []
    for epoch in range(epochs + 1):
        start = time.perf_counter()
        for x, _ in loader:
            x[0, 0, 0, 0].item()
        if epoch > 0:
            seconds.append(time.perf_counter() - start)
    return len(dataset) / statistics.median(seconds)


def raw_fashion_root(tmp):
    """torchvision's FashionMNIST layout, <root>/FashionMNIST/raw/<file>, decompressed."""
    raw = os.path.join(tmp, "FashionMNIST", "raw")
    os.makedirs(raw)
    for name in os.listdir(FASHION):
        if name.endswith(".gz"):
            with gzip.open(os.path.join(FASHION, name)) as src, open(os.path.join(raw, name[:-3]), "wb") as dst:
                shutil.copyfileobj(src, dst)
    return tmp


def write_image_folder(root, fashion_root, count, size):
    from PIL import Image
    from torchvision import datasets
    test = datasets.FashionMNIST(fashion_root, train=False)
    for i in range(count):
        image, label = test[i]
        image = image.resize((size, size), Image.BICUBIC)
        rgb = Image.merge("RGB", (image, image.transpose(Image.FLIP_LEFT_RIGHT), image.transpose(Image.FLIP_TOP_BOTTOM)))
        folder = os.path.join(root, test.classes[label].replace("/", "-"))
        os.makedirs(folder, exist_ok=True)
        rgb.save(os.path.join(folder, f"{i:05d}.jpg"), quality=90)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--build", default="build", help="kiln's build folder (default build)")
    p.add_argument("--epochs", type=int, default=5, help="timed epochs per figure, median taken (default 5)")
    p.add_argument("--images", type=int, default=3000, help="images in the ImageFolder tree (default 3000)")
    p.add_argument("--size", type=int, default=96, help="their side in pixels (default 96)")
    p.add_argument("--smoke", action="store_true",
                   help="kiln's side once, one epoch (CI: bench-loader and this script agree on the format); "
                        "torchvision's too when it is installed")
    args = p.parse_args()
    if args.smoke:
        args.epochs, args.images = 1, 50
        try:
            import torchvision  # noqa: F401
        except ImportError as e:
            print(f"skipped torchvision's side: {e} (apt-get install -y python3-torchvision)")
            bench = os.path.join(args.build, "bench", "bench-loader")
            for w in [0, 2]:
                rate, cpu = kiln_rates(bench, f"idx:{FASHION},split=test", "", w, 1)
                print(f"kiln idx 28x28 -> f32, {w} workers: {rate:,.0f} img/s, {cpu:.2f} CPU µs/img (smoke: one epoch)")
            return
    elif args.epochs < 3:
        p.error("--epochs must be at least 3 (each figure is a median)")
    bench = os.path.join(args.build, "bench", "bench-loader")
    if not os.access(bench, os.X_OK):
        sys.exit(f"loader_vs_torchvision: no {bench}; build kiln first (meson compile -C {args.build})")
    require_torchvision()
    import torch
    from torchvision import datasets, transforms
    torch.set_num_threads(2)
    torch.manual_seed(1)

    print(f"machine: {os.cpu_count()} CPUs; load average at start: {load_average(3)}")
    print(f"torch {torch.__version__}, torchvision {__import__('torchvision').__version__}; batch {BATCH}, "
          f"median of {args.epochs} epochs after a warm-up")
    rows = []  # (case, load, kiln images/s, kiln CPU µs/image, torchvision images/s)
    with tempfile.TemporaryDirectory(prefix="kiln-loader-bench.") as tmp:
        fashion_root = raw_fashion_root(os.path.join(tmp, "fashion"))
        photos = os.path.join(tmp, "photos")
        write_image_folder(photos, fashion_root, args.images, args.size)

        train = datasets.FashionMNIST(fashion_root, train=True, transform=transforms.ToTensor())
        for w in [0, 1, 2]:
            load = load_average()
            kiln = kiln_rates(bench, f"idx:{FASHION},split=train", "", w, args.epochs)
            rows.append((f"idx 28x28 -> f32, {w} worker{'s' if w != 1 else ''}", load, *kiln,
                         torch_rate(train, w, args.epochs)))

        side = f"{args.size}x{args.size}"
        for name, pipeline, tv in [
                (f"imagefolder {side} JPEG, augment + resize 64, 2 workers", AUGMENTED,
                 transforms.Compose([transforms.TrivialAugmentWide(), transforms.Resize((64, 64)), transforms.ToTensor()])),
                (f"imagefolder {side} JPEG, decode + to_tensor, 2 workers", "", transforms.ToTensor())]:
            load = load_average()
            kiln = kiln_rates(bench, f"imagefolder:{photos}", pipeline, 2, args.epochs)
            rows.append((name, load, *kiln, torch_rate(datasets.ImageFolder(photos, transform=tv), 2, args.epochs)))

    print()
    print(f"{'case':<56} {'load':>5} {'kiln img/s':>12} {'kiln CPU µs/img':>16} {'torchvision img/s':>18} {'ratio':>7}")
    for case, load, k, cpu, t in rows:
        print(f"{case:<56} {load:>5} {k:>12,.0f} {cpu:>16.2f} {t:>18,.0f} {k / t:>6.1f}x")
    print(f"load average at end: {load_average(3)}")

    idx2 = rows[2][2]
    augmented = rows[3][2]
    print()
    print(f"goal: Fashion-MNIST idx batches at 2 workers well over 100,000 img/s: {idx2:,.0f} img/s "
          f"({'met' if idx2 > 100_000 else 'NOT met'})")
    print(f"goal: augmented 64x64 ImageFolder batches faster than TinyVGG trains on them (a few thousand img/s at "
          f"most; ~8,000 img/s at 28x28 grey): {augmented:,.0f} img/s ({'met' if augmented > 3_000 else 'NOT met'})")


if __name__ == "__main__":
    main()
