#!/usr/bin/env python3
"""Imports go only downward: every `#include "kiln/<folder>/..."` in lib/kiln/<folder>/ must name
the folder itself or one of the layers below it. This table is the authority; lib/README.md draws
it. Run by `meson test layers`; prints every include that points up or sideways."""
import pathlib
import re
import sys

BELOW = {
    "core": set(),
    "op": {"core"},
    "tensor": {"core"},
    "graph": {"core", "op"},
    "backend": {"core", "op"},
    "optim": {"core"},
    "dist": {"core"},
    "micro": {"core", "op", "backend"},
    "runtime": {"core", "op", "graph", "backend", "optim", "micro", "dist"},
    "nn": {"core", "op", "graph"},
    "io": {"core", "op", "graph", "backend", "optim", "micro", "dist", "runtime"},
    "quant": {"core", "op", "graph", "backend", "optim", "micro", "dist", "runtime", "io"},
    "image": {"core"},
    "data": {"core", "image", "tensor"},
    "train": {"core", "op", "graph", "backend", "optim", "micro", "dist", "runtime", "io", "image", "data"},
    "report": {"core", "op", "graph", "backend", "optim", "micro", "dist", "runtime", "io", "image", "data", "tensor", "train"},
}

lib = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else pathlib.Path(__file__).parent.parent / "lib") / "kiln"
include = re.compile(r'^\s*#\s*include\s+"kiln/([a-z_]+)/')
problems, files = [], 0
for path in sorted(lib.rglob("*")):
    if path.suffix not in (".h", ".cpp", ".cu"):
        continue
    layer = path.relative_to(lib).parts[0]
    if layer not in BELOW:
        problems.append(f"{path}: folder '{layer}' is not in test/layers.py's table")
        continue
    files += 1
    for number, line in enumerate(path.read_text().splitlines(), 1):
        m = include.match(line)
        if m and m.group(1) != layer and m.group(1) not in BELOW[layer]:
            problems.append(f"{path}:{number}: {layer} includes kiln/{m.group(1)}/, which is not below it")
for p in problems:
    print(p)
print(f"{files} files, {len(problems)} imports against the layers")
sys.exit(1 if problems else 0)
