#!/usr/bin/python3
"""Compare the ratio panels of the resolution figures with the CSV tables.

Usage: check_plotted.py RESULTS_DIR RECORD_JSON

RECORD_JSON is written by `plot_results.py RESULTS_DIR --record RECORD_JSON`
from the drawn artists. For every resolution figure, each ratio line must
equal <name>_rms / Tight_rms of its table at the bin centres, and the
hatched band must span 1 -/+ Tight_rms_error / Tight_rms. Exits 1 and
prints the first disagreement of each figure otherwise.
"""

import csv
import json
import sys
from pathlib import Path

import numpy as np


def read_columns(path: Path) -> dict:
    """Read a CSV table into a dict of column name to float array."""
    with path.open(newline="") as handle:
        rows = list(csv.reader(handle))
    return {name: np.array([float(row[k]) for row in rows[1:]]) for k, name in enumerate(rows[0])}


def check_figure(table: dict, drawn: dict) -> list:
    """Return the disagreements between one figure's ratio panel and its table."""
    problems = []
    tight = table["Tight_rms"]
    names = [column[: -len("_rms")] for column in table if column.endswith("_rms") and column != "Tight_rms"]

    if sorted(drawn["ratio"]) != sorted(names):
        problems.append(f"ratio lines {sorted(drawn['ratio'])}, table estimators {sorted(names)}")
    for name in names:
        line = drawn["ratio"].get(name)
        if line is None:
            continue
        expected = table[f"{name}_rms"] / tight
        if not np.array_equal(np.array(line["x"]), table["bin_centre"]):
            problems.append(f"{name}: ratio line drawn at other x than the bin centres")
        if not np.allclose(np.array(line["y"]), expected, rtol=1e-12, equal_nan=True):
            problems.append(f"{name}: ratio line {line['y']} differs from rms / Tight_rms {expected.tolist()}")

    relative = table["Tight_rms_error"] / tight
    finite = relative[np.isfinite(relative)]
    expected_levels = np.unique(np.concatenate([1 - finite, 1 + finite]))
    vertices = np.array(drawn["band_vertices"])
    if vertices.size == 0:
        problems.append("no hatched band")
        return problems

    levels = np.unique(vertices[:, 1][np.isfinite(vertices[:, 1])])
    # Every drawn band edge is one of 1 -/+ relative error, and every finite bin's edges are drawn.
    for level in levels:
        if not np.any(np.isclose(level, expected_levels, rtol=0, atol=1e-12)):
            problems.append(f"band edge {level} is not 1 -/+ Tight_rms_error / Tight_rms of any bin")
            break
    for level in expected_levels:
        if not np.any(np.isclose(level, levels, rtol=0, atol=1e-12)):
            problems.append(f"band level {level} from the table is not drawn")
            break
    edges = np.append(table["bin_low"], table["bin_high"][-1])
    if vertices[:, 0].min() < edges[0] - 1e-9 or vertices[:, 0].max() > edges[-1] + 1e-9:
        problems.append("band reaches outside the bin edges")
    return problems


def main() -> int:
    """Check every recorded figure and return the exit code."""
    directory, record_path = Path(sys.argv[1]), Path(sys.argv[2])
    record = json.loads(record_path.read_text())
    if not record:
        print("no resolution figures were recorded")
        return 1
    failed = 0
    for figure, drawn in sorted(record.items()):
        problems = check_figure(read_columns(directory / figure.replace(".png", ".csv")), drawn)
        for problem in problems:
            print(f"{figure}: {problem}")
        failed += bool(problems)
    print(f"checked {len(record)} figures, {failed} disagree with their tables")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
