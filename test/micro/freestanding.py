#!/usr/bin/env python3
"""The micro runtime and its reference kernels, compiled for a runtime without an OS
(lib/kiln/micro/meson.build: -ffreestanding -fno-exceptions -fno-rtti), may call only memory, string
and math functions: no heap, no exceptions, no stdio, no threads. Lists the archive's undefined
symbols and fails on any other.
Usage: freestanding.py ARCHIVE [SANITIZERS]"""
import re
import subprocess
import sys

# _GLOBAL_OFFSET_TABLE_: the linker's, named by position-independent code (Meson's static libraries).
ALLOWED = re.compile(r"(_GLOBAL_OFFSET_TABLE_|mem(cpy|move|set|cmp|chr)|strlen|(exp|log|log1p|pow|sqrt|fabs|tanh|sin|cos|floor|ceil|fmax|fmin|nearbyint|round)f?)$")

if len(sys.argv) > 2 and sys.argv[2] != "none":
    # ASan and UBSan instrument every function with calls into their runtimes (and UBSan's
    # function check with type information); the unsanitized builds run this check.
    print(f"skipped: a -Db_sanitize={sys.argv[2]} build instruments the kernels with its runtime's calls")
    sys.exit(77)


def symbols(*flags):
    out = subprocess.run(["nm", *flags, sys.argv[1]], check=True, capture_output=True, text=True).stdout
    return {line.split()[-1] for line in out.splitlines() if line.strip() and not line.endswith(":")}


undefined = symbols("-u") - symbols("--defined-only")
bad = sorted(s for s in undefined if not ALLOWED.match(s))
print(f"{sys.argv[1]}: calls {', '.join(sorted(undefined)) or 'nothing'} from outside")
for s in bad:
    print(f"not allowed in the freestanding runtime: {s}")
sys.exit(1 if bad else 0)
