#!/usr/bin/python3
"""Write metric_fixtures.json: inputs and expected outputs for the evaluation tests.

Every expected value is computed here with NumPy and SciPy, independently of
the C++ code: direct sums over boolean bin masks for the profiles, the
integral of |F_a - F_b| over the merged sample points (CDFs evaluated by
brute force) for a window plus scipy.stats.wasserstein_distance for the
whole line, and the O(n m) pairwise comparison for the AUC.
Run with Debian's /usr/bin/python3 (python3-numpy, python3-scipy).
"""

import argparse
import json
from pathlib import Path

import numpy as np
from scipy import stats


def binned_rms(variable: np.ndarray, dx: np.ndarray, dy: np.ndarray, weights: np.ndarray,
               edges: np.ndarray) -> dict:
    """Return per-bin RMS, its standard error and the event counts, NaN for empty bins."""
    rms, error, events = [], [], []
    for low, high in zip(edges[:-1], edges[1:]):
        inside = (variable >= low) & (variable < high)
        d2 = np.concatenate([dx[inside] ** 2, dy[inside] ** 2])
        w = np.concatenate([weights[inside], weights[inside]])
        events.append(int(inside.sum()))
        if inside.sum() == 0:
            rms.append(float("nan"))
            error.append(float("nan"))
            continue
        mean = np.average(d2, weights=w)
        se_mean = np.sqrt(np.sum(w ** 2 * (d2 - mean) ** 2)) / np.sum(w)
        rms.append(float(np.sqrt(mean)))
        error.append(float(se_mean / (2.0 * np.sqrt(mean))))
    return {"rms": rms, "rms_error": error, "events": events}


def binned_linearity(true_met: np.ndarray, met: np.ndarray, weights: np.ndarray, edges: np.ndarray) -> dict:
    """Return per-bin mean relative deviation and its standard error, skipping zero true MET."""
    mean, error, events = [], [], []
    for low, high in zip(edges[:-1], edges[1:]):
        inside = (true_met >= low) & (true_met < high) & (true_met != 0)
        r = (met[inside] - true_met[inside]) / true_met[inside]
        w = weights[inside]
        events.append(int(inside.sum()))
        if inside.sum() == 0:
            mean.append(float("nan"))
            error.append(float("nan"))
            continue
        m = np.average(r, weights=w)
        mean.append(float(m))
        error.append(float(np.sqrt(np.sum(w ** 2 * (r - m) ** 2)) / np.sum(w)) if inside.sum() > 1 else float("nan"))
    return {"mean": mean, "error": error, "events": events}


def weighted_cdf(values: np.ndarray, weights: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Return the weighted empirical CDF P(value <= x) at each x."""
    return np.array([weights[values <= xi].sum() for xi in x]) / weights.sum()


def windowed_wasserstein(a: np.ndarray, wa: np.ndarray, b: np.ndarray, wb: np.ndarray, low: float,
                         high: float) -> float:
    """Integrate |F_a - F_b| over [low, high] exactly on the piecewise-constant CDFs."""
    points = np.unique(np.concatenate([a, b, [low, high]]))
    points = points[(points >= low) & (points <= high)]
    left = points[:-1]
    difference = np.abs(weighted_cdf(a, wa, left) - weighted_cdf(b, wb, left))
    return float(np.sum(difference * np.diff(points)))


def chi2(a: np.ndarray, wa: np.ndarray, b: np.ndarray, wb: np.ndarray, edges: np.ndarray, low: float,
         high: float) -> dict:
    """Return the chi2 and ndf between bin fractions over the bins inside [low, high], with under/overflow."""
    full = np.concatenate([[-np.inf], edges, [np.inf]])
    ha, _ = np.histogram(a, full, weights=wa)
    ha2, _ = np.histogram(a, full, weights=wa ** 2)
    hb, _ = np.histogram(b, full, weights=wb)
    hb2, _ = np.histogram(b, full, weights=wb ** 2)
    p, q = ha / wa.sum(), hb / wb.sum()
    variance = ha2 / wa.sum() ** 2 + hb2 / wb.sum() ** 2
    use = (full[:-1] >= low) & (full[1:] <= high) & (variance > 0)
    return {"chi2": float(np.sum((p[use] - q[use]) ** 2 / variance[use])), "ndf": int(use.sum())}


def pairwise_auc(s: np.ndarray, ws: np.ndarray, b: np.ndarray, wb: np.ndarray) -> float:
    """Return the Mann-Whitney AUC by comparing every signal-background pair."""
    greater = (s[:, None] > b[None, :]).astype(float)
    tied = (s[:, None] == b[None, :]).astype(float)
    pair_weight = ws[:, None] * wb[None, :]
    return float(np.sum(pair_weight * (greater + 0.5 * tied)) / pair_weight.sum())


def main() -> None:
    """Generate the samples, compute the expected values and write the JSON file."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--output", type=Path, default=Path(__file__).with_name("metric_fixtures.json"))
    arguments = parser.parse_args()
    rng = np.random.default_rng(20240501)

    # Resolution and linearity: 300 events, a bin left empty by construction.
    n = 300
    variable = rng.uniform(0.0, 100.0, n)
    variable = variable[(variable < 40.0) | (variable >= 60.0)]
    n = variable.size
    true_x, true_y = rng.normal(0, 30, n), rng.normal(0, 30, n)
    met_x, met_y = true_x + rng.normal(0, 10, n), true_y + rng.normal(0, 12, n)
    weights = rng.uniform(0.5, 2.0, n)
    edges = np.array([0.0, 20.0, 40.0, 60.0, 80.0, 90.0])  # 90-100 is overflow
    true_met = np.hypot(true_x, true_y)
    true_met[:3] = 0.0  # zero true MET is skipped by the linearity
    met = np.hypot(met_x, met_y)

    # Distributions and significance.
    a = rng.exponential(40.0, 250)
    b = rng.gamma(2.0, 25.0, 200)
    wa = rng.uniform(0.5, 1.5, a.size)
    wb = rng.uniform(0.5, 1.5, b.size)
    hist_edges = np.linspace(0.0, 150.0, 16)
    signal = np.round(rng.gamma(3.0, 1.5, 150), 1)  # rounding creates ties
    background = np.round(rng.gamma(1.5, 1.0, 180), 1)
    ws = rng.uniform(0.5, 1.5, signal.size)
    wbkg = rng.uniform(0.5, 1.5, background.size)
    cuts = np.arange(0.0, 10.0, 0.5)
    signal_total, background_total = 50.0, 5000.0
    eff_s = np.array([ws[signal >= c].sum() for c in cuts]) / ws.sum()
    eff_b = np.array([wbkg[background >= c].sum() for c in cuts]) / wbkg.sum()
    thresholds = np.unique(np.concatenate([signal, background]))[::-1]
    roc_s = np.concatenate([[0.0], [ws[signal >= t].sum() / ws.sum() for t in thresholds]])
    roc_b = np.concatenate([[0.0], [wbkg[background >= t].sum() / wbkg.sum() for t in thresholds]])
    target = 0.1
    k = int(np.argmax(roc_b > target))
    at_target = roc_s[k - 1] + (target - roc_b[k - 1]) / (roc_b[k] - roc_b[k - 1]) * (roc_s[k] - roc_s[k - 1])

    fixtures = {
        "provenance": "tests/evaluation/make_metric_fixtures.py (NumPy " + np.__version__ + ")",
        "profile": {
            "variable": variable.tolist(), "true_x": true_x.tolist(), "true_y": true_y.tolist(),
            "met_x": met_x.tolist(), "met_y": met_y.tolist(), "weights": weights.tolist(),
            "true_met": true_met.tolist(), "met": met.tolist(), "edges": edges.tolist(),
            "rms_weighted": binned_rms(variable, met_x - true_x, met_y - true_y, weights, edges),
            "rms_unweighted": binned_rms(variable, met_x - true_x, met_y - true_y, np.ones(n), edges),
            "linearity": binned_linearity(true_met, met, weights, edges),
        },
        "distribution": {
            "a": a.tolist(), "b": b.tolist(), "wa": wa.tolist(), "wb": wb.tolist(), "edges": hist_edges.tolist(),
            "wasserstein_all": float(stats.wasserstein_distance(a, b, wa, wb)),
            "wasserstein_0_100": windowed_wasserstein(a, wa, b, wb, 0.0, 100.0),
            "wasserstein_100_inf": windowed_wasserstein(a, wa, b, wb, 100.0, float(max(a.max(), b.max()))),
            "chi2_all": chi2(a, wa, b, wb, hist_edges, -np.inf, np.inf),
            "chi2_0_100": chi2(a, wa, b, wb, hist_edges, 0.0, 100.0),
            "density_a": (np.histogram(a, hist_edges, weights=wa)[0] / (wa.sum() * 10.0)).tolist(),
        },
        "significance": {
            "signal": signal.tolist(), "background": background.tolist(), "ws": ws.tolist(),
            "wb": wbkg.tolist(), "cuts": cuts.tolist(), "signal_total": signal_total,
            "background_total": background_total, "signal_efficiency": eff_s.tolist(),
            "background_efficiency": eff_b.tolist(),
            "significance": [float(signal_total * s / np.sqrt(background_total * b)) if b > 0 else None
                             for s, b in zip(eff_s, eff_b)],
            "auc": pairwise_auc(signal, ws, background, wbkg),
            "roc_points": int(thresholds.size + 1),
            "signal_efficiency_at_0.1": float(at_target),
        },
    }
    text = json.dumps(fixtures, indent=1, allow_nan=True).replace("NaN", "null")
    arguments.output.write_text(text + "\n")


if __name__ == "__main__":
    main()
