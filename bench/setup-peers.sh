#!/bin/bash
# The Python environment of the side-by-side benchmarks (bench/models_vs_peers.py): a venv in
# build-peers/venv with onnxruntime and onnx, and PyTorch 2.x from PyPI. kiln never uses any of it.
#   bash bench/setup-peers.sh [VENV]
# PyPI's Linux torch wheel imports only with its CUDA libraries present; instead of its ~3 GB of
# CUDA wheels this installs torch without dependencies, then its pure-Python dependencies and only
# the four NVIDIA libraries torch's own shared objects link against, at the versions its METADATA
# pins (../shared/build-notes.md). bench/models_vs_peers.py puts their lib/ folders on
# LD_LIBRARY_PATH for the torch process. Debian's PyTorch 1.13 (the other peer) comes from apt:
#   apt-get install -y python3-torch libopenblas0-openmp
set -euo pipefail
venv=${1:-build-peers/venv}
python3 -m venv "$venv"
pip="$venv/bin/pip"
"$pip" install -q --upgrade pip
"$pip" install -q numpy onnx onnxruntime
"$pip" install -q --no-deps torch
# torch's Requires-Dist: every pure-Python one, and of the NVIDIA ones only those its libraries need.
"$venv/bin/python" - "$pip" <<'EOF'
import importlib.metadata as md, re, subprocess, sys
needed_nvidia = ("nvidia-cusparselt-cu", "nvidia-nvshmem-cu", "nvidia-cufile", "nvidia-nccl-cu")
python_deps, nvidia = [], []
for req in md.requires("torch") or []:
    spec = req.split(";")[0].strip()
    marker = req.split(";", 1)[1] if ";" in req else ""
    if "extra ==" in marker:
        continue
    name = re.split(r"[<>=!~ \[]", spec, 1)[0].lower()
    if name.startswith(needed_nvidia):
        nvidia.append(spec)
    elif not name.startswith("nvidia-") and name != "triton":  # triton: the GPU compiler
        python_deps.append(spec)
print("torch needs:", " ".join(python_deps + nvidia))
subprocess.run([sys.argv[1], "install", "-q", *python_deps], check=True)
subprocess.run([sys.argv[1], "install", "-q", "--no-deps", *nvidia], check=True)
EOF
echo "peers in $venv: $("$venv/bin/python" -c 'import onnxruntime; print("onnxruntime", onnxruntime.__version__)')"
