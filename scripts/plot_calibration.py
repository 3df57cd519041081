#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Plot the simulation calibration CSVs against ATLAS MC16.

Reads the CSV files that tools/simulation_calibration writes and saves one
PNG per comparison into the same folder. Resolution profiles get one panel
per working point, with the simulation as a line and ATLAS as points. The
ttbar true and Tight MET spectra and the ttbar feature means and widths
get one figure each.

Usage: /usr/bin/python3 scripts/plot_calibration.py CALIBRATION_DIR
Needs numpy and matplotlib (Debian's python3-numpy, python3-matplotlib).
"""

import csv
import pathlib
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

WORKING_POINTS = ["Tight", "Loose", "Tghtr", "FJVT", "Calo", "Track"]
MIN_EVENTS = 200  # simulated bins with fewer events are drawn hollow
MIN_SHOWN_EVENTS = 30  # and bins with fewer than this are left out

PROFILES = [
    ("zmumu_rmse_vs_actmu", "Z -> mu mu, mu uniform in [10, 60]", "<mu>"),
    ("ttbar_rmse_vs_actmu", "ttbar, mu uniform in [10, 60]", "<mu>"),
    ("ww_rmse_vs_actmu", "WW -> l nu l nu, mu uniform in [10, 60]", "<mu>"),
    ("ttbar_rmse_vs_true_et", "ttbar, Run-2 mu profile", "true MET [GeV]"),
    ("zmumu_rmse_vs_true_et", "Z -> mu mu, Run-2 mu profile", "true MET [GeV]"),
    ("ttbar_rmse_vs_tight_final_sumet", "ttbar, Run-2 mu profile", "Tight sum ET [GeV]"),
    ("zmumu_rmse_vs_tight_final_sumet", "Z -> mu mu, Run-2 mu profile", "Tight sum ET [GeV]"),
]


def read_columns(path):
    """Return the CSV at path as a dict of column name to numpy array (strings kept for 'feature')."""
    with open(path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    columns = {}
    for name in rows[0]:
        values = [row[name] for row in rows]
        columns[name] = np.array(values) if name == "feature" else np.array(values, dtype=float)
    return columns


def plot_profile(directory, stem, title, x_label):
    """Save STEM.png: per-axis RMS of (MET - true) per working point, simulation against ATLAS."""
    data = read_columns(directory / f"{stem}.csv")
    x = data["bin_centre"]
    order = np.argsort(x)
    x = x[order]
    enough = data["events"][order] >= MIN_EVENTS

    figure, axes = plt.subplots(2, 3, figsize=(12, 7), sharex=True)
    for axis, wp in zip(axes.flat, WORKING_POINTS):
        simulated = data[f"{wp}_sim"][order]
        atlas = data[f"{wp}_atlas"][order]
        axis.plot(x, atlas, "o", color="black", markersize=4, label="ATLAS MC16")
        axis.plot(x[enough], simulated[enough], "-", color="tab:red", linewidth=1.8, label="simulation")
        sparse = ~enough & (data["events"][order] >= MIN_SHOWN_EVENTS)
        if sparse.any():
            axis.plot(x[sparse], simulated[sparse], "o", mfc="none", color="tab:red", markersize=4,
                      label=f"simulation, {MIN_SHOWN_EVENTS}-{MIN_EVENTS} events")
        axis.fill_between(x, 0.85 * atlas, 1.15 * atlas, color="grey", alpha=0.2, linewidth=0,
                          label="ATLAS +- 15 %")
        axis.set_title(wp)
        axis.grid(alpha=0.3)
        top = max(np.max(atlas), np.max(simulated[enough], initial=0.0))
        axis.set_ylim(0.0, 1.25 * top)
    for axis in axes[1]:
        axis.set_xlabel(x_label)
    for axis in axes[:, 0]:
        axis.set_ylabel("RMS(MET - true) per axis [GeV]")
    handles, labels = axes.flat[0].get_legend_handles_labels()
    for axis in axes.flat[1:]:
        for handle, label in zip(*axis.get_legend_handles_labels()):
            if label not in labels:
                handles.append(handle)
                labels.append(label)
    figure.legend(handles, labels, loc="upper right", ncol=4, frameon=False)
    figure.suptitle(title, x=0.02, ha="left")
    figure.tight_layout(rect=(0, 0, 1, 0.94))
    figure.savefig(directory / f"{stem}.png", dpi=100)
    plt.close(figure)


def plot_spectra(directory):
    """Save ttbar_met_spectra.png: true and Tight MET densities, linear (1 GeV bins) and log (5 GeV bins)."""
    data = read_columns(directory / "ttbar_met_spectra.csv")
    x = data["bin_centre"]
    figure, axes = plt.subplots(2, 2, figsize=(12, 8))
    for row, (key, name) in enumerate((("true_et", "true MET"), ("tight_et", "Tight MET"))):
        atlas = data[f"{key}_atlas"]
        simulated = data[f"{key}_sim"]
        for column, log in enumerate((False, True)):
            axis = axes[row, column]
            if log:
                # 5 GeV bins so that the simulated tail is not dominated by counting noise.
                centres = x.reshape(-1, 5).mean(axis=1)
                atlas_shown = atlas.reshape(-1, 5).mean(axis=1)
                simulated_shown = simulated.reshape(-1, 5).mean(axis=1)
            else:
                centres, atlas_shown, simulated_shown = x, atlas, simulated
            axis.step(centres, atlas_shown, where="mid", color="black", linewidth=1.5, label=f"{name}, ATLAS MC16")
            axis.step(centres, simulated_shown, where="mid", color="tab:red", linewidth=1.2,
                      label=f"{name}, simulation")
            axis.set_xlabel(f"{name} [GeV]")
            axis.set_ylabel("share of events per GeV")
            axis.grid(alpha=0.3)
            if log:
                axis.set_yscale("log")
                axis.set_ylim(1e-6, 3e-2)
            else:
                axis.set_xlim(0, 300)
            axis.legend(frameon=False)
    figure.suptitle("ttbar non-all-hadronic, Run-2 mu profile: MET spectra, unit area over 0-500 GeV", x=0.02,
                    ha="left")
    figure.tight_layout()
    figure.savefig(directory / "ttbar_met_spectra.png", dpi=100)
    plt.close(figure)


def plot_features(directory):
    """Save feature_stats.png: simulated over ATLAS std, and the mean offset over ATLAS |mean| or std, the larger."""
    data = read_columns(directory / "feature_stats.csv")
    names = data["feature"]
    width_ratio = data["sim_std"] / data["atlas_std"]
    mean_offset = (data["sim_mean"] - data["atlas_mean"]) / np.maximum(
        np.where(np.abs(data["atlas_mean"]) < data["atlas_std"], data["atlas_std"], np.abs(data["atlas_mean"])),
        1e-9)
    y = np.arange(len(names))

    figure, axes = plt.subplots(1, 2, figsize=(12, 16), sharey=True)
    for axis, values, label, centre in ((axes[0], width_ratio, "sim std / ATLAS std", 1.0),
                                       (axes[1], mean_offset, "(sim mean - ATLAS mean) / scale", 0.0)):
        outside = np.abs(values - centre) > 0.15
        axis.barh(y, values - centre, left=centre, color=np.where(outside, "tab:red", "tab:blue"))
        axis.axvspan(centre - 0.15, centre + 0.15, color="grey", alpha=0.2)
        axis.axvline(centre, color="black", linewidth=0.8)
        axis.set_xlabel(label)
        axis.grid(axis="x", alpha=0.3)
    axes[0].set_yticks(y)
    axes[0].set_yticklabels(names, fontsize=8)
    axes[0].invert_yaxis()
    axes[1].set_xlim(-0.6, 0.6)
    axes[0].set_xlim(0.4, 1.6)
    figure.suptitle("ttbar features, Tight-rotated frame: red bars are more than 15 % off "
                    "(scale = ATLAS |mean|, or ATLAS std if larger)", x=0.02, ha="left")
    figure.tight_layout(rect=(0, 0, 1, 0.98))
    figure.savefig(directory / "feature_stats.png", dpi=90)
    plt.close(figure)


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: plot_calibration.py CALIBRATION_DIR (the --out folder of simulation_calibration)")
    directory = pathlib.Path(sys.argv[1])
    for stem, title, x_label in PROFILES:
        path = directory / f"{stem}.csv"
        if not path.exists():
            sys.exit(f"missing {path}: run tools/simulation_calibration --out {directory} first")
        plot_profile(directory, stem, title, x_label)
    plot_spectra(directory)
    plot_features(directory)
    print(f"wrote {len(PROFILES) + 2} PNG files to {directory}")


if __name__ == "__main__":
    main()
