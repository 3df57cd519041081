#!/usr/bin/env python3
"""Print Markdown tables that set metnet evaluate results beside the ATLAS METNet figures.

Usage: compare_atlas_results.py RESULTS_DIR ATLAS_DIR MODEL [MODEL ...]

RESULTS_DIR contains the tables of `metnet evaluate` (ttbar_resolution_vs_mu.csv,
zmumu_resolution_vs_mu.csv, ttbar_resolution_vs_true_met.csv); ATLAS_DIR
contains the ATLAS tables {ttbar,zmumu}_rmse_vs_actmu.csv and
ttbar_rmse_vs_true_et.csv. Both use the same bins (16 <mu> bins from 10 to
60, 17.5 GeV true-MET bins), which the script checks by their centres.
MODEL names the METNet columns to show (e.g. METNet_huber).
"""

import csv
import math
import sys
from pathlib import Path

def read_rows(path):
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def require_same_bins(ours, atlas, our_key, atlas_key, name):
    """Raise ValueError unless the two tables have the same bin centres."""
    if len(ours) != len(atlas):
        raise ValueError(f"{name}: {len(ours)} bins in the results but {len(atlas)} in the ATLAS table")
    for row, reference in zip(ours, atlas):
        if not math.isclose(float(row[our_key]), float(reference[atlas_key]), rel_tol=1e-3):
            raise ValueError(f"{name}: bin centre {row[our_key]} does not match the ATLAS centre {reference[atlas_key]}")


def mu_table(results, atlas_dir, process, models):
    """Return the Markdown lines of the resolution-vs-<mu> comparison of one process."""
    lines = []
    ours = read_rows(results / f"{process}_resolution_vs_mu.csv")
    atlas = read_rows(atlas_dir / f"{process}_rmse_vs_actmu.csv")
    require_same_bins(ours, atlas, "bin_centre", "mean_mu", process)
    header = ["<mu>", "Tight ATLAS [GeV]", "Tight ours [GeV]", "Tighter/Tight ATLAS", "Tghtr/Tight ours",
              "METNet/Tight ATLAS"] + [f"{model}/Tight" for model in models]
    lines.append("| " + " | ".join(header) + " |")
    lines.append("|" + " --- |" * len(header))
    for row, reference in zip(ours, atlas):
        atlas_tight = float(reference["Tight"])
        cells = [f"{float(row['bin_centre']):.1f}", f"{atlas_tight:.2f}", f"{float(row['Tight_rms']):.2f}",
                 f"{float(reference['Tighter']) / atlas_tight:.3f}", f"{float(row['Tghtr_ratio_to_Tight']):.3f}",
                 f"{float(reference['METNet']) / atlas_tight:.3f}"]
        cells += [f"{float(row[f'{model}_ratio_to_Tight']):.3f}" for model in models]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def true_met_table(results, atlas_dir, models):
    """Return the Markdown lines of the ttbar resolution-vs-true-MET comparison."""
    lines = []
    ours = read_rows(results / "ttbar_resolution_vs_true_met.csv")
    atlas = read_rows(atlas_dir / "ttbar_rmse_vs_true_et.csv")
    require_same_bins(ours, atlas, "bin_centre", "true_met_gev", "ttbar true MET")
    header = ["true MET [GeV]", "Tight ATLAS [GeV]", "Tight ours [GeV]", "METNet/Tight ATLAS"]
    header += [f"{model}/Tight" for model in models]
    lines.append("| " + " | ".join(header) + " |")
    lines.append("|" + " --- |" * len(header))
    for row, reference in zip(ours, atlas):
        atlas_tight = float(reference["Tight"])
        cells = [f"{float(row['bin_centre']):.1f}", f"{atlas_tight:.2f}", f"{float(row['Tight_rms']):.2f}",
                 f"{float(reference['METNet']) / atlas_tight:.3f}"]
        cells += [f"{float(row[f'{model}_ratio_to_Tight']):.3f}" for model in models]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def main(argv):
    if len(argv) < 4:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    results, atlas_dir, models = Path(argv[1]), Path(argv[2]), argv[3:]
    # Every table is built before the first line is printed, so an error leaves no partial output.
    try:
        lines = []
        for process in ("ttbar", "zmumu"):
            lines += [f"{process}, resolution vs <mu>:", ""] + mu_table(results, atlas_dir, process, models) + [""]
        lines += ["ttbar, resolution vs true MET:", ""] + true_met_table(results, atlas_dir, models)
    except (OSError, KeyError, ValueError) as error:
        print(f"compare_atlas_results.py: {error}", file=sys.stderr)
        return 2
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
