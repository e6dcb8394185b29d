#!/usr/bin/env python3
"""Cross-checks the transforms plugin's operations against torchvision and PIL on random images.

Not needed by the test suite (which uses hand-worked images); run it by hand after changing an
operation:

    python3 test/transforms/torchvision_crosscheck.py [--cases N] [--keep DIR]

Needs torch, torchvision, pillow < 13 and numpy in the Python that runs it, and g++ (it
compiles crosscheck_driver.cpp with the plugin's sources). Pillow 13 (its pull request #9549)
runs the vertical pass first when the height shrinks much more than the width, which moves some
resized pixels by one; kiln keeps the horizontal-then-vertical order of every Pillow before it. It prints, per operation, how many output
values differ from the reference and by how much at most; exit status 1 if an operation that
should agree exactly does not.
"""
import argparse
import os
import pathlib
import random
import subprocess
import sys
import tempfile

import numpy as np
import torch
import torchvision
import torchvision.transforms.functional as F
import torchvision.transforms.v2.functional as F2
from PIL import Image
from torchvision.transforms import InterpolationMode, TrivialAugmentWide
from torchvision.transforms.autoaugment import _apply_op

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent.parent
SOURCES = ["config.cpp", "geometry.cpp", "resize.cpp", "color.cpp", "tensor.cpp", "trivial_augment.cpp"]
TA_OPS = list(TrivialAugmentWide()._augmentation_space(31).keys())


def build(workdir):
    exe = os.path.join(workdir, "crosscheck_driver")
    cmd = ["g++", "-std=c++20", "-O2", "-ffp-contract=off", "-march=native", f"-I{ROOT / 'plugins'}", f"-I{ROOT / 'lib'}",
           str(HERE / "crosscheck_driver.cpp")] + [str(ROOT / "plugins" / "transforms" / s) for s in SOURCES] + ["-o", exe]
    subprocess.run(cmd, check=True)
    return exe


def run_driver(exe, workdir, cases):
    """cases: list of (command line, HxWxC uint8 array). Returns arrays (u8 HWC / f32 CHW) or error strings."""
    cases_path, results_path = os.path.join(workdir, "cases.bin"), os.path.join(workdir, "results.bin")
    with open(cases_path, "wb") as f:
        for line, img in cases:
            h, w, c = img.shape
            f.write(f"{line}\n{h} {w} {c}\n".encode())
            f.write(np.ascontiguousarray(img, dtype=np.uint8).tobytes())
    subprocess.run([exe, cases_path, results_path], check=True)
    results = []
    with open(results_path, "rb") as f:
        for _ in cases:
            header = f.readline().decode().split()
            if header[0] == "error":
                results.append(" ".join(header[1:]))
                continue
            dims = [int(x) for x in header[1:]]
            if header[0] == "u8":
                n = dims[0] * dims[1] * dims[2]
                results.append(np.frombuffer(f.read(n), dtype=np.uint8).reshape(dims))
            else:
                n = dims[0] * dims[1] * dims[2]
                results.append(np.frombuffer(f.read(4 * n), dtype=np.float32).reshape(dims))
    return results


def chw(img):  # HWC numpy → CHW uint8 tensor
    return torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1)))


def hwc(t):  # CHW tensor → HWC numpy
    return t.numpy().transpose(1, 2, 0)


def random_image(rng, h, w, c):
    kind = rng.random()
    if kind < 0.6:
        return np.array([rng.randrange(256) for _ in range(h * w * c)], dtype=np.uint8).reshape(h, w, c)
    # smooth gradients with a narrow range: exercises autocontrast/equalize and rounding near ties
    lo, hi = sorted(rng.randrange(256) for _ in range(2))
    y, x = np.mgrid[0:h, 0:w]
    base = lo + (hi - lo) * ((x + 2 * y) / max(1, (w - 1) + 2 * (h - 1)))
    return np.repeat(np.clip(np.round(base), 0, 255).astype(np.uint8)[:, :, None], c, axis=2)


class Tally:
    def __init__(self):
        self.rows = {}

    def add(self, name, ours, ref, exact):
        row = self.rows.setdefault(name, {"cases": 0, "values": 0, "differ": 0, "max": 0.0, "exact": exact, "errors": 0})
        row["cases"] += 1
        if isinstance(ours, str):
            row["errors"] += 1
            print(f"  {name}: driver error: {ours}")
            return
        ref = np.asarray(ref)
        if ours.shape != ref.shape:
            row["errors"] += 1
            print(f"  {name}: shape {ours.shape} vs reference {ref.shape}")
            return
        d = np.abs(ours.astype(np.float64) - ref.astype(np.float64))
        row["values"] += d.size
        row["differ"] += int((d > 0).sum())
        row["max"] = max(row["max"], float(d.max()) if d.size else 0.0)

    def report(self):
        failed = False
        print(f"{'operation':44} {'cases':>6} {'values':>9} {'differ':>7} {'max |d|':>8}  expectation")
        for name, r in self.rows.items():
            bad = r["errors"] > 0 or (r["exact"] and r["differ"] > 0)
            failed = failed or bad
            print(f"{name:44} {r['cases']:6} {r['values']:9} {r['differ']:7} {r['max']:8.3g}  "
                  f"{'exact' if r['exact'] else 'close'}{'  <-- FAIL' if bad else ''}")
        return failed


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cases", type=int, default=40, help="random images per operation")
    ap.add_argument("--keep", help="work directory to keep")
    args = ap.parse_args()
    print(f"torch {torch.__version__}, torchvision {torchvision.__version__}, pillow {Image.__version__}")
    workdir = args.keep or tempfile.mkdtemp(prefix="kiln-tf-xcheck-")
    os.makedirs(workdir, exist_ok=True)
    exe = build(workdir)
    rng = random.Random(1234)
    torch.manual_seed(0)
    cases, refs = [], []  # refs: (tally name, reference, exact?)

    def case(line, img, name, ref, exact=True):
        cases.append((line, img))
        refs.append((name, ref, exact))

    blank = np.zeros((1, 1, 1), np.uint8)
    for bins in (31, 13, 2):
        ta = TrivialAugmentWide(num_magnitude_bins=bins)._augmentation_space(bins)
        ref = np.full((1, 14, bins), -1.0, np.float32)
        for k, (mags, _) in enumerate(ta.values()):
            if mags.ndim > 0:
                ref[0, k] = mags.to(torch.float32).numpy()
        case(f"magnitudes {bins}", blank, "TA magnitude bins", ref)

    for _ in range(args.cases):
        h, w, c = rng.randint(1, 24), rng.randint(1, 24), rng.choice([1, 3])
        img = random_image(rng, h, w, c)
        t = chw(img)
        oh, ow = rng.randint(1, 24), rng.randint(1, 24)
        mode = "L" if c == 1 else "RGB"
        pil = Image.fromarray(img[:, :, 0] if c == 1 else img, mode)
        pil_out = np.asarray(pil.resize((ow, oh), Image.BILINEAR)).reshape(oh, ow, c)
        case(f"resize {oh} {ow}", img, "resize vs PIL BILINEAR", pil_out)
        # torch's own uint8 kernel (from pillow-simd: 16-bit weights) differs from PIL by one at times
        case(f"resize {oh} {ow}", img, "resize vs torchvision v2 uint8 tensor", hwc(F2.resize(t, [oh, ow], antialias=True)),
             exact=False)
        # v1 on tensors resizes in f32 and rounds once (half to even): within one of PIL. (Its
        # antialiased kernel returns a constant column for some 1-pixel-wide outputs: skipped.)
        if oh > 1 and ow > 1:
            case(f"resize {oh} {ow}", img, "resize vs torchvision v1 tensor (f32 path)",
                 hwc(F.resize(t, [oh, ow], antialias=True)), exact=False)
        case("hflip", img, "hflip", hwc(F.hflip(t)))
        case("vflip", img, "vflip", hwc(F.vflip(t)))
        th, tw = rng.randint(1, 30), rng.randint(1, 30)
        case(f"center_crop {th} {tw}", img, "center_crop", hwc(F.center_crop(t, [th, tw])))
        for pmode in ("constant", "edge", "reflect", "symmetric"):
            lim = min(h, w) - 1 if pmode == "reflect" else (min(h, w) if pmode == "symmetric" else 5)
            if lim < 0 or (pmode == "reflect" and lim == 0):
                continue
            p = [rng.randint(0, lim) for _ in range(4)]
            fill = rng.randrange(256) if pmode == "constant" else 0
            ref = hwc(F.pad(t, p, fill=fill, padding_mode=pmode))
            case(f"pad {p[0]} {p[1]} {p[2]} {p[3]} {pmode} {fill}", img, f"pad {pmode}", ref)
        if c == 3:
            gray = np.asarray(Image.fromarray(img, "RGB").convert("L"))[:, :, None]
            case("grayscale 1", img, "grayscale vs PIL convert('L')", gray)
        ft = F.to_tensor(pil if c == 3 else Image.fromarray(img[:, :, 0], "L"))
        case("to_tensor", img, "to_tensor vs F.to_tensor(PIL)", ft.numpy())
        mean, std = [round(rng.uniform(0, 1), 3) for _ in range(c)], [round(rng.uniform(0.1, 1), 3) for _ in range(c)]
        case(f"normalize {':'.join(map(str, mean))} {':'.join(map(str, std))}", img, "normalize vs F.normalize",
             F.normalize(ft, mean, std).numpy())
        for interp in ("nearest", "bilinear"):
            angle = rng.uniform(-180, 180) if rng.random() < 0.6 else float(rng.choice([90, -90, 180, 270, 45, -30]))
            expand = rng.random() < 0.3
            center = [rng.randint(0, w), rng.randint(0, h)] if rng.random() < 0.3 else None
            fill = [float(rng.randrange(256))] * c if rng.random() < 0.5 else None
            ref = hwc(F.rotate(t, angle, InterpolationMode(interp), expand=expand, center=center, fill=fill))
            cs = "none" if center is None else f"{center[0]}:{center[1]}"
            fs = "none" if fill is None else ":".join(str(v) for v in fill)
            case(f"rotate {angle!r} {interp} {int(expand)} {cs} {fs}", img, f"rotate {interp}", ref,
                 exact=interp == "nearest")

    # Every TrivialAugmentWide op at every bin, both signs, both interpolations, with and without fill.
    space = TrivialAugmentWide()._augmentation_space(31)
    for name, (mags, signed) in space.items():
        values = [float(m) for m in mags] if mags.ndim > 0 else [0.0] * 30
        for mag in values:
            for sign in ((1.0, -1.0) if signed else (1.0,)):
                h, w, c = rng.randint(3, 20), rng.randint(3, 20), rng.choice([1, 3, 3])
                img = random_image(rng, h, w, c)
                interp = rng.choice(["nearest", "bilinear"])
                fill = [float(rng.randrange(256))] * c if rng.random() < 0.3 else None
                ref = hwc(_apply_op(chw(img), name, mag * sign, InterpolationMode(interp), fill))
                fs = "none" if fill is None else ":".join(str(v) for v in fill)
                geometric = name in ("ShearX", "ShearY", "TranslateX", "TranslateY", "Rotate")
                label = f"TA {name}" + (f" {interp}" if geometric else "")
                case(f"ta {name} {mag * sign!r} {interp} {fs}", img, label, ref,
                     exact=not (geometric and interp == "bilinear"))

    results = run_driver(exe, workdir, cases)
    tally = Tally()
    for (name, ref, exact), ours in zip(refs, results):
        tally.add(name, ours, ref, exact)
    failed = tally.report()
    print("FAILED" if failed else "all exact-expected operations agree exactly")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
