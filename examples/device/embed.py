#!/usr/bin/env python3
"""Headers for the device checks (scripts/test-device.sh makes them in build-device/programs/):
  embed.py samples IDX_DIR COUNT OUT_DIR   the first COUNT Fashion-MNIST test images and labels:
                                           OUT_DIR/samples.h, samples.u8 + labels.u8 (raw) for the
                                           host's training reference, and the first image as
                                           sample0.pgm
  embed.py logits CSV NAME OUT.h           kiln-infer --logits' CSV as NAME_expected_logits, the
                                           logits the device must reproduce (floats written exactly)"""
import csv
import gzip
import pathlib
import struct
import sys


def idx(path, magic):
    data = gzip.open(path).read()
    got, = struct.unpack(">I", data[:4])
    if got != magic:
        sys.exit(f"{path}: not an IDX file with magic {magic:#x}")
    dims = struct.unpack(f">{magic & 0xFF}I", data[4:4 + 4 * (magic & 0xFF)])
    return dims, data[4 + 4 * len(dims):]


def samples(idx_dir, count, out_dir):
    (n, h, w), pixels = idx(pathlib.Path(idx_dir) / "t10k-images-idx3-ubyte.gz", 0x803)
    (n_labels,), labels = idx(pathlib.Path(idx_dir) / "t10k-labels-idx1-ubyte.gz", 0x801)
    if count > min(n, n_labels):
        sys.exit(f"{idx_dir}: {count} samples asked, {min(n, n_labels)} there")
    out = pathlib.Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "samples.u8").write_bytes(pixels[:count * h * w])
    (out / "labels.u8").write_bytes(labels[:count])
    (out / "sample0.pgm").write_bytes(f"P5\n{w} {h}\n255\n".encode() + pixels[:h * w])
    rows = []
    for i in range(count):
        image = pixels[i * h * w:(i + 1) * h * w]
        rows.append("    {" + ",".join(str(b) for b in image) + "},")
    (out / "samples.h").write_text(
        f"// The first {count} Fashion-MNIST test images (u8, H×W×1) and their labels, made by embed.py.\n"
        "#pragma once\n"
        f"#define SAMPLE_COUNT {count}\n#define SAMPLE_HEIGHT {h}\n#define SAMPLE_WIDTH {w}\n"
        f"static const unsigned char sample_pixels[{count}][{h * w}] = {{\n" + "\n".join(rows) + "\n};\n"
        f"static const unsigned char sample_labels[{count}] = {{" + ",".join(str(b) for b in labels[:count]) + "};\n")


def logits(csv_path, name, out_path):
    with open(csv_path, newline="") as f:
        rows = list(csv.reader(f))
    header, body = rows[0], rows[1:]
    if header[:3] != ["index", "label", "predicted"]:
        sys.exit(f"{csv_path}: not kiln-infer --logits output")
    classes = len(header) - 3
    lines = []
    for i, row in enumerate(body):
        if int(row[0]) != i:
            sys.exit(f"{csv_path}: row {i} has index {row[0]}")
        lines.append("    {" + ", ".join(v + "f" if any(c in v for c in ".en") else v + ".0f" for v in row[3:]) + "},")
    pathlib.Path(out_path).write_text(
        f"// kiln-infer's logits for the first {len(body)} test images ({csv_path}), made by embed.py.\n"
        "#pragma once\n"
        f"static const float {name}_expected_logits[{len(body)}][{classes}] = {{\n" + "\n".join(lines) + "\n};\n"
        f"static const unsigned char {name}_expected_predicted[{len(body)}] = {{" + ",".join(r[2] for r in body) + "};\n")


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "samples":
        samples(sys.argv[2], int(sys.argv[3]), sys.argv[4])
    elif len(sys.argv) == 5 and sys.argv[1] == "logits":
        logits(sys.argv[2], sys.argv[3], sys.argv[4])
    else:
        sys.exit(__doc__)
