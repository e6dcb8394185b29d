#!/usr/bin/env python3
"""Footprint of the exported course models on the Cortex-M7 (scripts/test-device.sh runs this after
its firmware passed): a Markdown table per model of
  - flash: the micro runtime's code as linked into the firmware at -Os (the symbols of
    libkiln-micro.a in the ELF, from nm) + the program (weights and schedule, NAME_PROGRAM_BYTES);
  - RAM: the planned arena beside the planner's lower bound, the stack's high-water mark and all RAM
    in use (data, bss, heap, stack) as the firmware measured them (its `result:` line);
then what a training
program of each model needs (kiln-export --train: arena + weights and optimizer state in RAM), with
and without momentum, against the board's 256 KiB.
  python3 bench/device_footprint.py BUILD_M7 PROGRAMS_DIR RUNS_DIR KILN_EXPORT"""
import json
import pathlib
import re
import subprocess
import sys
import tempfile

MODELS = ["fmnist_mlp", "lenet5", "tinyvgg", "resnet_mini"]
INT8_MODELS = ["lenet5_int8", "tinyvgg_int8", "resnet_mini_int8"]  # kiln-export --int8
RAM = 256 * 1024


def run(*cmd):
    return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout


def define(header, name):
    m = re.search(rf"#define \w+_{name} (\d+)u?", header.read_text())
    return int(m.group(1))


def results(build):
    out = {}
    for line in (build / "meson-logs" / "testlog.json").read_text().splitlines():
        test = json.loads(line)
        m = re.search(r"^result: (.*)$", test["stdout"], re.M)
        if m:
            out[test["name"]] = dict(kv.split("=", 1) for kv in m.group(1).split() if "=" in kv)
    return out


def micro_code_bytes(build, elf):
    archive = build / "lib" / "kiln" / "micro" / "libkiln-micro.a"
    ours = {line.split()[0] for line in run("arm-none-eabi-nm", "--defined-only", "-P", str(archive)).splitlines()
            if len(line.split()) >= 2 and line.split()[1] in "TtWw"}
    total = 0
    for line in run("arm-none-eabi-nm", "-S", "-P", str(elf)).splitlines():
        f = line.split()
        if len(f) == 4 and f[0] in ours and f[1] in "TtWw":
            total += int(f[3], 16)
    return total


def training_needs(kiln_export, run_dir, momentum):
    with tempfile.TemporaryDirectory() as tmp:
        out = run(kiln_export, str(run_dir), "--out", tmp, "--name", "m", "--train", "--momentum", str(momentum))
    m = re.search(r"arena (\d+) bytes \(lower bound (\d+)\), state in RAM (\d+) bytes", out)
    return int(m.group(1)), int(m.group(3))


def kib(n):
    return f"{n / 1024:.1f} KiB"


def main():
    if len(sys.argv) != 5:
        sys.exit(__doc__)
    build, programs, runs, kiln_export = (pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2]), pathlib.Path(sys.argv[3]),
                                          sys.argv[4])
    measured = results(build)
    print("Inference on the Cortex-M7 (mps2-an500 under QEMU), batch 1, firmware built -Os (--buildtype=minsize):\n")
    print("| model | runtime code | program (weights + schedule) | flash | arena planned / lower bound | stack | RAM in use |")
    print("|---|---|---|---|---|---|---|")
    for model in MODELS + INT8_MODELS:
        header = programs / f"{model}.h"
        code = micro_code_bytes(build, build / "examples" / "device" / f"infer-{model}")
        program = define(header, "PROGRAM_BYTES")
        r = measured.get(f"infer-{model}", {})
        print(f"| {model} | {kib(code)} | {kib(program)} | {kib(code + program)} | "
              f"{define(header, 'ARENA_BYTES')} / {r.get('lower_bound', '?')} B | {r.get('stack_bytes', '?')} B | "
              f"{kib(int(r['ram_bytes'])) if 'ram_bytes' in r else '?'} of 256 KiB |")
    print("\nThe runtime's code is all of it: micro.cpp, every reference kernel (the kernel table names them all) and GEMM;")
    print("the C library's maths (expf, logf, …) and printf are the firmware's.\n")

    t = measured.get("train-tinyvgg", {})
    if t:
        print(f"On-device training, TinyVGG (hidden 10), SGD momentum 0.9, batch 1, {t['steps']} steps: arena "
              f"{t['arena_bytes']} B + state {t['state_bytes']} B + stack {t['stack_bytes']} B; RAM in use "
              f"{t['ram_bytes']} B of {RAM} ({100 * int(t['ram_bytes']) / RAM:.0f} %); mean loss {t['first_pass_loss']} → "
              f"{t['last_pass_loss']}; weights within {t['worst_weight_difference']} of the host's.\n")
    print("What a training program needs in RAM (kiln-export --train, batch 1; arena + weights and optimizer state):\n")
    print("| model | SGD | fits 256 KiB | SGD momentum | fits 256 KiB |")
    print("|---|---|---|---|---|")
    for model in MODELS:
        row = [model]
        for momentum in (0, 0.9):
            arena, state = training_needs(kiln_export, runs / model, momentum)
            row += [f"{arena} + {state} = {kib(arena + state)}", "yes" if arena + state < RAM else "no"]
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
