#!/usr/bin/env python3
"""By-hand check that weights move both ways between kiln and PyTorch (not part of the tests:
PyTorch and safetensors are not kiln dependencies). Needs a run directory from the main job
(bash scripts/main.sh → runs/main) and, e.g., Debian's python3-torch plus `pip install safetensors`:

    /usr/bin/python3 scripts/check_pytorch_interop.py

"""
# 1. kiln's best.safetensors loads strictly into the PyTorch TinyVGG; its test accuracy there is compared
#    with kiln-infer's on the same 10,000 images.
# 2. A PyTorch TinyVGG's state_dict saved with safetensors.torch.save_file is evaluated by kiln-infer;
#    both sides' predictions are compared.
import gzip, json, shutil, subprocess, sys, importlib.util, os
import numpy as np, torch
from safetensors.torch import load_file, save_file
spec = importlib.util.spec_from_file_location("m", "bench/models_pytorch.py"); m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m)
def idx(path):
    b = gzip.open(path).read()
    ndim = b[3]; dims = [int.from_bytes(b[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(b, np.uint8, offset=4 + 4 * ndim).reshape(dims)
x = torch.tensor(idx("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz"), dtype=torch.float32).unsqueeze(1) / 255
y = torch.tensor(idx("/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz").astype(np.int64))
def accuracy(model):
    model.eval()
    with torch.inference_mode(): pred = model(x).argmax(1)
    return (pred == y).float().mean().item(), pred
model = m.TinyVGG()
model.load_state_dict(load_file("runs/main/best.safetensors"), strict=True)
acc, _ = accuracy(model)
print(f"1. kiln -> PyTorch: load_state_dict(strict=True) ok; PyTorch test accuracy {acc:.4f}")
torch.manual_seed(0)
fresh = m.TinyVGG()
xt = torch.tensor(idx("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz")[:6400], dtype=torch.float32).unsqueeze(1) / 255
yt = torch.tensor(idx("/usr/share/datasets/fashion-mnist/train-labels-idx1-ubyte.gz")[:6400].astype(np.int64))
opt = torch.optim.SGD(fresh.parameters(), lr=0.1)
for i in range(0, 6400, 32):  # one epoch on 6,400 images, in PyTorch
    opt.zero_grad(); torch.nn.functional.cross_entropy(fresh(xt[i:i + 32]), yt[i:i + 32]).backward(); opt.step()
os.makedirs("/tmp/pt-run", exist_ok=True)
shutil.copy("runs/main/model.json", "/tmp/pt-run/model.json")
save_file(fresh.state_dict(), "/tmp/pt-run/best.safetensors")
acc_pt, pred_pt = accuracy(fresh)
out = subprocess.run(["build/tools/kiln-infer", "/tmp/pt-run", "--data", "idx:/usr/share/datasets/fashion-mnist,split=test", "--json"], capture_output=True, text=True)
if out.returncode: sys.exit(out.stderr)
doc = json.loads(out.stdout)
cm = np.array(doc["confusion"])
print(f"2. PyTorch -> kiln: kiln-infer accuracy {doc.get('accuracy')} vs PyTorch {acc_pt:.4f}")
if cm is not None:
    pt_cm = np.zeros((10, 10), np.int64)
    for t, p in zip(y.tolist(), pred_pt.tolist()): pt_cm[t, p] += 1
    print("   confusion matrices equal:", bool((cm == pt_cm).all()), "| differing cells:", int((cm != pt_cm).sum()))
