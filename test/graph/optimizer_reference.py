"""Makes the reference values in test_optimizer.cpp with PyTorch.

Each case: p = [1, -2, 3, 0.5], loss = sum(p * p * w) with w = [0.5, 1, -0.25, 2], three
optimizer steps, the learning rate halved before the third (as a scheduler would). Prints p after
every step as C++ initialisers. Run: python3 optimizer_reference.py (needs torch).
"""
import torch

CASES = {
    "sgd": lambda p: torch.optim.SGD([p], lr=0.1),
    "sgd_momentum": lambda p: torch.optim.SGD([p], lr=0.1, momentum=0.9, dampening=0.1, weight_decay=0.01),
    "sgd_nesterov": lambda p: torch.optim.SGD([p], lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01),
    "sgd_maximize": lambda p: torch.optim.SGD([p], lr=0.05, momentum=0.5, maximize=True),
    "adam": lambda p: torch.optim.Adam([p], lr=0.1),
    "adam_l2": lambda p: torch.optim.Adam([p], lr=0.1, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1),
    "adamw": lambda p: torch.optim.AdamW([p], lr=0.1, weight_decay=0.1),
}

for name, make in CASES.items():
    p = torch.tensor([1.0, -2.0, 3.0, 0.5], requires_grad=True)
    w = torch.tensor([0.5, 1.0, -0.25, 2.0])
    opt = make(p)
    rows = []
    for step in range(3):
        if step == 2:
            for group in opt.param_groups:
                group["lr"] *= 0.5
        opt.zero_grad()
        (p * p * w).sum().backward()
        opt.step()
        rows.append("{" + ", ".join(f"{v:.9g}f" for v in p.detach().tolist()) + "}")
    print(f'{{"{name}", {{{", ".join(rows)}}}}},')
