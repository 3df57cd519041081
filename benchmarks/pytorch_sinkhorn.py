#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Time the Sinkhorn divergence with its gradient in PyTorch and POT, for
the shapes of BM_Sinkhorn in benchmarks/training_bench.cpp.

Run with Debian's interpreter (python3-torch 1.13 with OpenBLAS, POT 0.8.2):
    /usr/bin/python3 benchmarks/pytorch_sinkhorn.py --threads 1
Both sides run a fixed number of log-domain iterations in float32 (no
convergence test), so the figure is a time per solve of that length:
PyTorch with autograd through the iterations, POT's ot.sinkhorn2 with
method="sinkhorn_log" (its gradient comes from the returned plan).
"""

import argparse
import statistics
import time

import numpy as np
import ot
import torch


def clouds(points: int):
    """Return x ~ N(0, 1) and y ~ N(0.3, 1.2) as float32 arrays of shape (points, 2)."""
    rng = np.random.default_rng(1)
    x = rng.normal(0.0, 1.0, size=(points, 2)).astype(np.float32)
    y = rng.normal(0.3, 1.2, size=(points, 2)).astype(np.float32)
    return x, y


def torch_ot(x, y, eps: float, iterations: int):
    """Return OT_eps(x, y) by alternating log-domain updates, uniform weights."""
    cost = torch.cdist(x, y) ** 2
    log_a = torch.full((x.shape[0],), -np.log(x.shape[0]), dtype=x.dtype)
    log_b = torch.full((y.shape[0],), -np.log(y.shape[0]), dtype=y.dtype)
    f = torch.zeros_like(log_a)
    g = torch.zeros_like(log_b)
    for _ in range(iterations):
        f = -eps * torch.logsumexp(log_b[None, :] + (g[None, :] - cost) / eps, dim=1)
        g = -eps * torch.logsumexp(log_a[:, None] + (f[:, None] - cost) / eps, dim=0)
    return (log_a.exp() * f).sum() + (log_b.exp() * g).sum()


def torch_divergence_step(x_np, y_np, eps: float, iterations: int) -> float:
    """Return the seconds for S and dS/dx by autograd."""
    x = torch.tensor(x_np, requires_grad=True)
    y = torch.tensor(y_np)
    start = time.perf_counter()
    s = torch_ot(x, y, eps, iterations) - 0.5 * torch_ot(x, x, eps, iterations) - 0.5 * torch_ot(y, y, eps, iterations)
    s.backward()
    return time.perf_counter() - start


def pot_divergence_step(x, y, eps: float, iterations: int) -> float:
    """Return the seconds for the three POT plans and the gradient from them."""
    n = x.shape[0]
    a = np.full(n, 1.0 / n, dtype=np.float32)
    start = time.perf_counter()
    plans = []
    for first, second in ((x, y), (x, x), (y, y)):
        cost = ot.dist(first, second, metric="sqeuclidean")
        plans.append(ot.sinkhorn(a, a, cost, eps, method="sinkhorn_log", numItermax=iterations, stopThr=0.0))
    _ = 2.0 * (plans[1] @ x - plans[0] @ y)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1, help="torch.set_num_threads value")
    parser.add_argument("--iterations", type=int, default=50, help="log-domain iterations per solve")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved timing rounds")
    parser.add_argument("--points", type=int, nargs="+", default=[256, 1024], help="points per cloud")
    arguments = parser.parse_args()
    torch.set_num_threads(arguments.threads)
    print(f"torch {torch.__version__}, POT {ot.__version__}, threads {torch.get_num_threads()}, "
          f"{arguments.iterations} iterations per solve")
    for points in arguments.points:
        x, y = clouds(points)
        for eps in (0.1, 0.01):
            torch_times, pot_times = [], []
            for _ in range(arguments.rounds):
                torch_times.append(torch_divergence_step(x, y, eps, arguments.iterations))
                pot_times.append(pot_divergence_step(x, y, eps, arguments.iterations))
            print(f"Sinkhorn {points} points eps {eps}: PyTorch {statistics.median(torch_times) * 1e3:8.1f} ms, "
                  f"POT {statistics.median(pot_times) * 1e3:8.1f} ms")


if __name__ == "__main__":
    main()
