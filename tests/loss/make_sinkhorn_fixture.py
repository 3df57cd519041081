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


def plan(a, x, b, y, eps, annealing=False):
    cost = ot.dist(x, y, metric="sqeuclidean")
    if annealing:
        # sinkhorn_log missed the marginals by 5e-7 after 50000 iterations on
        # the MET-like clouds; POT's epsilon scaling meets them to 4e-8.
        p = ot.bregman.sinkhorn_epsilon_scaling(a, b, cost, eps, numItermax=200000, epsilon0=1e4,
                                                numInnerItermax=1000, tau=1e3, stopThr=1e-12, warn=False)
    else:
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


def divergence(x, a, y, b, eps, annealing=False):
    p_xy, c_xy = plan(a, x, b, y, eps, annealing)
    p_xx, c_xx = plan(a, x, a, x, eps, annealing)
    p_yy, c_yy = plan(b, y, b, y, eps, annealing)
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


def met_like_targets(rng, n, spread):
    """Return n points like the standardised true MET of ttbar batches in
    the frame rotated to the reference MET. Along the reference direction
    they follow a log-normal (sigma 0.6), standardised and times `spread`.
    The spread is 1 for targets standardised on their own and about 2.3 for
    targets standardised with the spread of the residual to the reference
    MET. Across it they follow 0.8 times a Student t with 5 degrees of
    freedom. The 99% quantile along the reference, 3.6 standard deviations,
    is close to that of simulated ttbar events (3.3)."""
    sigma = 0.6
    mean = np.exp(sigma**2 / 2)
    sd = np.sqrt((np.exp(sigma**2) - 1) * np.exp(sigma**2))
    along = spread * (np.exp(sigma * rng.normal(size=n)) - mean) / sd
    across = 0.8 * rng.standard_t(5, size=n)
    return np.stack([along, across], axis=1)


def met_like_cases():
    """Two batches of 256 at eps 0.01 with long tails: predictions in a tight
    cluster (an untrained network) and predictions that follow the targets
    with noise (a partly trained one). On the clustered batch of this seed,
    the solver before the starved-column update returned a divergence of
    0.0096 instead of 1.05, after 1000 iterations without converging."""
    rng = np.random.default_rng(3)
    cases = []
    targets = met_like_targets(rng, 256, 1.0)
    predictions = rng.normal(0.0, 0.5, size=(256, 2))
    cases.append(("MET-like targets, clustered predictions, eps 0.01", predictions, targets))
    targets = met_like_targets(rng, 256, 2.3)
    predictions = np.stack([0.9 * targets[:, 0] + rng.normal(0.0, 1.0, 256),
                            0.8 * targets[:, 1] + rng.normal(0.0, 0.7, 256)], axis=1)
    cases.append(("MET-like targets, trained predictions, eps 0.01", predictions, targets))
    u = np.full(256, 1.0 / 256)
    result = []
    for name, x, y in cases:
        result.append({"name": name, "eps": 0.01, "x": x.tolist(), "x_weights": [], "y": y.tolist(),
                       "y_weights": [], **divergence(x, u, y, u, 0.01, annealing=True)})
    return result


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
    cases += met_like_cases()
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "sinkhorn_fixture.json")
    with open(out, "w") as handle:
        json.dump({"generator": "tests/loss/make_sinkhorn_fixture.py (POT " + ot.__version__ + ")",
                   "cases": cases}, handle, indent=1)
        handle.write("\n")


if __name__ == "__main__":
    main()
