# SPDX-License-Identifier: MIT
"""Write adam_fixture.json: 10-step trajectories of torch.optim.Adam and
torch.optim.AdamW in float32, and the learning rates of
CosineAnnealingWarmRestarts, the references for tests/optim/adam_test.cpp.

Run from anywhere with Debian's interpreter (python3-torch 1.13):
    /usr/bin/python3 tests/optim/make_adam_fixture.py

The gradients are fixed random matrices, one per step and parameter, so the
trajectory tests the optimiser alone.
"""
import json
import os

import torch

STEPS = 10


def trajectory(make_optimizer, initial, gradients, max_grad_norm=None):
    params = [torch.nn.Parameter(p.clone()) for p in initial]
    optimizer = make_optimizer(params)
    values = []
    for step in range(STEPS):
        for p, g in zip(params, gradients[step]):
            p.grad = g.clone()
        if max_grad_norm is not None:
            torch.nn.utils.clip_grad_norm_(params, max_grad_norm)
        optimizer.step()
        values.append([p.detach().tolist() for p in params])
    return values


def main():
    torch.manual_seed(20240611)
    initial = [torch.randn(2, 3), torch.randn(1, 3)]
    gradients = [[torch.randn(2, 3) * 0.7, torch.randn(1, 3) * 1.5] for _ in range(STEPS)]
    runs = [
        ("adam", dict(lr=0.01, weight_decay=0.0), None,
         lambda ps: torch.optim.Adam(ps, lr=0.01)),
        ("adam l2 weight decay", dict(lr=0.01, weight_decay=0.1), None,
         lambda ps: torch.optim.Adam(ps, lr=0.01, weight_decay=0.1)),
        ("adamw", dict(lr=0.01, weight_decay=0.1, betas=[0.1, 0.999]), None,
         lambda ps: torch.optim.AdamW(ps, lr=0.01, betas=(0.1, 0.999), weight_decay=0.1)),
        ("adamw clipped", dict(lr=0.01, weight_decay=0.01, max_grad_norm=1.0), 1.0,
         lambda ps: torch.optim.AdamW(ps, lr=0.01, weight_decay=0.01)),
    ]
    cases = []
    for name, options, clip, make in runs:
        cases.append({"name": name, "options": options,
                      "trajectory": trajectory(make, initial, gradients, clip)})

    # Learning rates of CosineAnnealingWarmRestarts(T_0=4, T_mult=2,
    # eta_min=1e-4) from base lr 0.01, read before each of 20 steps.
    probe = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([probe], lr=0.01)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(optimizer, T_0=4, T_mult=2, eta_min=1e-4)
    rates = []
    for _ in range(20):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()

    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "adam_fixture.json")
    with open(out, "w") as handle:
        json.dump({"generator": "tests/optim/make_adam_fixture.py (torch " + torch.__version__ + ")",
                   "initial": [p.tolist() for p in initial],
                   "gradients": [[g.tolist() for g in step] for step in gradients],
                   "cases": cases,
                   "cosine_warm_restarts": {"max_lr": 0.01, "min_lr": 1e-4, "cycle_steps": 4,
                                            "cycle_multiplier": 2, "rates": rates}}, handle, indent=1)
        handle.write("\n")


if __name__ == "__main__":
    main()
