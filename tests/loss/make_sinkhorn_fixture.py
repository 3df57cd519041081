# SPDX-License-Identifier: MIT
"""Write sinkhorn_fixture.json: Sinkhorn divergences and their gradients
computed with POT, the reference for tests/loss/sinkhorn_test.cpp.

Run from anywhere with Debian's interpreter (python3-pot 0.8.2, numpy):
    /usr/bin/python3 tests/loss/make_sinkhorn_fixture.py

Conventions (as metnet/loss/sinkhorn.hpp): cost C_ij = |x_i - y_j|^2,
OT_eps(a, b) = <P, C> + eps * KL(P | a x b) at POT's optimal plan P,
S = OT_eps(a, b) - OT_eps(a, a) / 2 - OT_eps(b, b) / 2, and
dS/dx_i = 2 (sum_k Q_ik x_k - sum_j P_ij y_j) with Q the plan of (a, a).
POT's entropic objective <P, C> - eps * H(P) has the same optimal plan as
the KL form because the two differ by a constant under the marginal
constraints, so only the value is recomputed here.
"""
import json
import os

import numpy as np
import ot


def plan(a, x, b, y, eps):
    cost = ot.dist(x, y, metric="sqeuclidean")
    p = ot.sinkhorn(a, b, cost, eps, method="sinkhorn_log", numItermax=50000, stopThr=1e-10)
    marginal_error = max(np.abs(p.sum(axis=1) - a).max(), np.abs(p.sum(axis=0) - b).max())
    if marginal_error > 1e-7:
        raise RuntimeError(f"POT did not reach the marginals: error {marginal_error:.2e} at eps {eps}")
    return p, cost


def ot_eps(p, cost, a, b, eps):
    ab = np.outer(a, b)
    mask = p > 0
    kl = np.sum(p[mask] * np.log(p[mask] / ab[mask]))
    return float(np.sum(p * cost) + eps * kl)


def divergence(x, a, y, b, eps):
    p_xy, c_xy = plan(a, x, b, y, eps)
    p_xx, c_xx = plan(a, x, a, x, eps)
    p_yy, c_yy = plan(b, y, b, y, eps)
    ot_xy = ot_eps(p_xy, c_xy, a, b, eps)
    ot_xx = ot_eps(p_xx, c_xx, a, a, eps)
    ot_yy = ot_eps(p_yy, c_yy, b, b, eps)
    gradient = 2.0 * (p_xx @ x - p_xy @ y)
    return {
        "divergence": ot_xy - 0.5 * ot_xx - 0.5 * ot_yy,
        "ot_xy": ot_xy,
        "ot_xx": ot_xx,
        "ot_yy": ot_yy,
        "gradient": gradient.tolist(),
    }


def main():
    rng = np.random.default_rng(20240611)
    cases = []
    # Unequal sizes, non-uniform weights, several epsilons.
    x = rng.normal(size=(7, 2))
    y = rng.normal(loc=(0.5, -0.3), scale=1.3, size=(5, 2))
    a_raw = rng.uniform(0.5, 2.0, size=7)
    b_raw = rng.uniform(0.5, 2.0, size=5)
    for eps in (1.0, 0.1, 0.02):
        result = divergence(x, a_raw / a_raw.sum(), y, b_raw / b_raw.sum(), eps)
        cases.append({"name": f"unequal sizes, weighted, eps {eps}", "eps": eps, "x": x.tolist(),
                      "x_weights": a_raw.tolist(), "y": y.tolist(), "y_weights": b_raw.tolist(), **result})
    # Equal sizes, uniform weights, three dimensions.
    x3 = rng.normal(size=(12, 3))
    y3 = rng.normal(loc=0.2, size=(12, 3))
    u = np.full(12, 1.0 / 12)
    for eps in (0.5, 0.05):
        result = divergence(x3, u, y3, u, eps)
        cases.append({"name": f"equal sizes, uniform, 3-D, eps {eps}", "eps": eps, "x": x3.tolist(),
                      "x_weights": [], "y": y3.tolist(), "y_weights": [], **result})
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "sinkhorn_fixture.json")
    with open(out, "w") as handle:
        json.dump({"generator": "tests/loss/make_sinkhorn_fixture.py (POT " + ot.__version__ + ")",
                   "cases": cases}, handle, indent=1)
        handle.write("\n")


if __name__ == "__main__":
    main()
