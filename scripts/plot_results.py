#!/usr/bin/python3
"""Render the METNet evaluation figures (PNG) from the CSV tables of `metnet evaluate`.

Figures, written next to the tables:
  <process>_resolution_vs_<variable>.png  RMS of (MET - true) per axis, with a
      ratio-to-Tight panel and a hatched band for Tight's statistical error
  <process>_linearity.png                 (|MET| - true MET) / true MET
  <process>_met_distribution.png          p_T^miss distributions, log scale
  significance_<score>.png                score distributions per sample and
      s/sqrt(b) against the cut for every signal and background pair
  significance_roc_<signal>.png           ROC curves of every score against Z -> mu mu
  significance_roc_<signal>_vs_<background>.png   the same against another background
The (signal, background, score) combinations come from significance_summary.csv.
Every plotted value is read from the tables: the ratio panel draws the
<name>_ratio_to_Tight columns and the hatched band Tight_rms_error / Tight_rms.
With --atlas DIR, the METNet/Tight ratio of the ATLAS tables
(<process>_rmse_vs_*.csv) is drawn as a reference line in the ratio panels.
With --record FILE, the data of the drawn ratio lines and bands are written
to FILE as JSON, so that a test can compare the figures with the tables.
"""

import argparse
import csv
import json
import re
from pathlib import Path
from typing import Optional

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

COLOURS = {
    "Tight": "tab:blue", "Loose": "tab:orange", "Tghtr": "tab:green", "FJVT": "tab:purple",
    "Calo": "tab:brown", "Track": "tab:gray", "Tenacious": "tab:olive", "True": "black",
}
NETWORK_COLOURS = ["tab:red", "tab:cyan", "tab:pink", "gold"]
PROCESS_LABELS = {"ttbar": r"$t\bar{t}$", "zmumu": r"$Z\to\mu\mu$", "ww": r"$WW\to\ell\nu\ell\nu$",
                  "stop": r"$\tilde{t}\tilde{t}$", "wlnu": r"$W\to\ell\nu$", "all": "all events"}
VARIABLE_LABELS = {
    "true_met": r"true $p_{\mathrm{T}}^{\mathrm{miss}}$ [GeV]",
    "mu": r"$\langle\mu\rangle$",
    "npv": r"$N_{\mathrm{PV}}$ (vertices with $\geq 2$ tracks)",
    "sumet": r"Tight $\Sigma E_{\mathrm{T}}$ [GeV]",
}
ATLAS_FILES = {"true_met": "rmse_vs_true_et", "mu": "rmse_vs_actmu", "sumet": "rmse_vs_tight_final_sumet"}
DEFAULT_BACKGROUND = "zmumu"


def read_table(path: Path) -> dict:
    """Read a CSV table into a dict of column name to numpy array (float where every cell parses)."""
    with path.open(newline="") as handle:
        rows = list(csv.reader(handle))
    header, body = rows[0], rows[1:]
    table = {}
    for k, name in enumerate(header):
        cells = [row[k] for row in body]
        try:
            table[name] = np.array([float(cell) for cell in cells])
        except ValueError:
            table[name] = np.array(cells)
    return table


def estimator_names(table: dict, suffix: str) -> list:
    """Return the estimator names of the columns ending in suffix, in table order."""
    return [name[: -len(suffix)] for name in table if name.endswith(suffix)]


def colour_of(name: str, networks: list) -> str:
    """Return the plot colour of an estimator: fixed per working point, one per network."""
    if name in COLOURS:
        return COLOURS[name]
    return NETWORK_COLOURS[networks.index(name) % len(NETWORK_COLOURS)] if name in networks else "black"


def network_names(names: list) -> list:
    """Return the names that are not working points (the METNet models)."""
    return [name for name in names if name not in COLOURS]


def atlas_ratio(atlas: Optional[Path], process: str, variable: str) -> Optional[tuple]:
    """Return (bin centres, METNet/Tight) from the ATLAS table for the same profile, or None."""
    if atlas is None or variable not in ATLAS_FILES:
        return None
    path = atlas / f"{process}_{ATLAS_FILES[variable]}.csv"
    if not path.exists():
        return None
    table = read_table(path)
    centre = table[next(iter(table))]
    order = np.argsort(centre)
    return centre[order], (table["METNet"] / table["Tight"])[order]


def record_ratio_panel(axis) -> dict:
    """Return the data of the drawn ratio lines and hatched band of a ratio panel, read back from its artists."""
    lines = {line.get_gid()[len("ratio:"):]: {"x": [float(v) for v in line.get_xdata()],
                                              "y": [float(v) for v in line.get_ydata()]}
             for line in axis.get_lines() if (line.get_gid() or "").startswith("ratio:")}
    band = [collection for collection in axis.collections if collection.get_gid() == "band"]
    vertices = np.concatenate([path.vertices for path in band[0].get_paths()]) if band else np.empty((0, 2))
    return {"ratio": lines, "band_vertices": vertices.tolist()}


def plot_resolution(path: Path, process: str, variable: str, atlas: Optional[Path],
                    record: Optional[dict] = None) -> Path:
    """Draw the resolution profile with its ratio-to-Tight panel and return the PNG path."""
    table = read_table(path)
    names = estimator_names(table, "_rms")
    networks = network_names(names)
    low, high, centre = table["bin_low"], table["bin_high"], table["bin_centre"]
    half = 0.5 * (high - low)
    figure, (top, bottom) = plt.subplots(2, 1, sharex=True, figsize=(7, 6.5),
                                         gridspec_kw={"height_ratios": [3, 1.3], "hspace": 0.05})
    for name in names:
        style = {"color": colour_of(name, networks), "label": name}
        if name in networks:
            style.update(marker="o", markersize=4, linewidth=2)
        else:
            style.update(marker=".", markersize=3, linewidth=1)
        top.errorbar(centre, table[f"{name}_rms"], xerr=half, yerr=table[f"{name}_rms_error"], linestyle="none",
                     **style)
        ratio_column = f"{name}_ratio_to_Tight"
        if ratio_column in table and name != "Tight":
            bottom.plot(centre, table[ratio_column], color=style["color"], marker=style["marker"],
                        markersize=style["markersize"], linewidth=0.8 if name not in networks else 1.5,
                        gid=f"ratio:{name}")

    if "Tight_rms" in table:
        relative = table["Tight_rms_error"] / table["Tight_rms"]
        edges = np.append(low, high[-1])
        band = np.append(relative, relative[-1])
        bottom.fill_between(edges, 1 - band, 1 + band, step="post", facecolor="none", edgecolor="tab:blue",
                            hatch="////", linewidth=0, label="Tight stat. unc.", gid="band")
        bottom.axhline(1.0, color="tab:blue", linewidth=0.8)

    reference = atlas_ratio(atlas, process, variable)
    if reference is not None:
        bottom.plot(reference[0], reference[1], color="black", linestyle="--", linewidth=1.2,
                    label="ATLAS MC METNet / Tight")

    top.set_ylabel(r"RMS($p_{x,y}^{\mathrm{miss}} - p_{x,y}^{\mathrm{miss,true}}$) [GeV]")
    top.set_title(f"{PROCESS_LABELS.get(process, process)}: resolution vs {VARIABLE_LABELS[variable].split(' [')[0]}")
    top.legend(ncol=2, fontsize=8, frameon=False)
    top.grid(alpha=0.3)
    bottom.set_ylabel("ratio to Tight")
    bottom.set_xlabel(VARIABLE_LABELS[variable])
    bottom.grid(alpha=0.3)
    bottom.legend(fontsize=7, frameon=False, loc="best")

    finite = np.concatenate([table[f"{n}_ratio_to_Tight"] for n in names if f"{n}_ratio_to_Tight" in table])
    if reference is not None:
        finite = np.concatenate([finite, reference[1]])
    finite = finite[np.isfinite(finite)]
    if finite.size:
        bottom.set_ylim(max(0.0, np.percentile(finite, 2) - 0.1), min(3.0, np.percentile(finite, 98) + 0.1))

    output = path.with_suffix(".png")
    figure.savefig(output, dpi=120, bbox_inches="tight")
    if record is not None:
        record[output.name] = record_ratio_panel(bottom)
    plt.close(figure)
    return output


def plot_linearity(path: Path, process: str) -> Path:
    """Draw the linearity against true MET and return the PNG path."""
    table = read_table(path)
    names = estimator_names(table, "_linearity")
    networks = network_names(names)
    figure, axis = plt.subplots(figsize=(7, 4.5))
    half = 0.5 * (table["bin_high"] - table["bin_low"])
    for name in names:
        axis.errorbar(table["bin_centre"], table[f"{name}_linearity"], xerr=half,
                      yerr=table[f"{name}_linearity_error"], linestyle="none", marker="o" if name in networks else ".",
                      markersize=4 if name in networks else 3, color=colour_of(name, networks), label=name)
    axis.axhline(0.0, color="black", linewidth=0.8)
    axis.set_xlabel(VARIABLE_LABELS["true_met"])
    axis.set_ylabel(r"$(p_{\mathrm{T}}^{\mathrm{miss}} - p_{\mathrm{T}}^{\mathrm{miss,true}})"
                    r" / p_{\mathrm{T}}^{\mathrm{miss,true}}$")
    axis.set_title(f"{PROCESS_LABELS.get(process, process)}: linearity")
    values = np.concatenate([table[f"{n}_linearity"] for n in names])
    values = values[np.isfinite(values)]
    if values.size:
        axis.set_ylim(max(-1.0, values.min() - 0.1), min(3.0, values.max() + 0.1))
    axis.legend(ncol=2, fontsize=8, frameon=False)
    axis.grid(alpha=0.3)
    output = path.with_suffix(".png")
    figure.savefig(output, dpi=120, bbox_inches="tight")
    plt.close(figure)
    return output


def plot_distribution(path: Path, process: str) -> Path:
    """Draw the p_T^miss distributions on a log scale and return the PNG path."""
    table = read_table(path)
    names = estimator_names(table, "_density")
    networks = network_names(names)
    edges = np.append(table["bin_low"], table["bin_high"][-1])
    figure, axis = plt.subplots(figsize=(7, 5))
    for name in names:
        density = table[f"{name}_density"]
        axis.stairs(density, edges, color=colour_of(name, networks), label=name,
                    linewidth=2 if name in networks or name == "True" else 1,
                    linestyle="--" if name == "True" else "-")
    axis.set_yscale("log")
    axis.set_xlabel(r"$p_{\mathrm{T}}^{\mathrm{miss}}$ [GeV]")
    axis.set_ylabel(r"fraction of events / GeV")
    axis.set_title(f"{PROCESS_LABELS.get(process, process)}: $p_{{\\mathrm{{T}}}}^{{\\mathrm{{miss}}}}$ distribution")
    axis.legend(ncol=2, fontsize=8, frameon=False)
    axis.grid(alpha=0.3)
    output = path.with_suffix(".png")
    figure.savefig(output, dpi=120, bbox_inches="tight")
    plt.close(figure)
    return output


def score_label(score: str) -> str:
    """Return the axis label of a significance column (METNet_Sig, Tight_Sig, ...)."""
    prefix = score[: -len("_Sig")] if score.endswith("_Sig") else score
    return f"{prefix}Sig" if prefix not in COLOURS else f"{prefix} object-based significance"


def significance_pairs(directory: Path) -> list:
    """Return the (signal, background, score) rows of significance_summary.csv, or [] without it."""
    path = directory / "significance_summary.csv"
    if not path.exists():
        return []
    with path.open(newline="") as handle:
        return [(row["signal"], row["background"], row["score"]) for row in csv.DictReader(handle)]


def pair_label(signal: str, background: str) -> str:
    """Return the legend label of a signal and background pair."""
    return f"{PROCESS_LABELS.get(signal, signal)} vs {PROCESS_LABELS.get(background, background)}"


def plot_significance(directory: Path, score: str, pairs: list) -> Optional[Path]:
    """Draw one score's distributions per sample and s/sqrt(b) against the cut; return the PNG path."""
    path = directory / f"significance_{score}_distribution.csv"
    table = read_table(path)
    samples = estimator_names(table, "_density")
    edges = np.append(table["bin_low"], table["bin_high"][-1])
    figure, (top, bottom) = plt.subplots(2, 1, sharex=True, figsize=(7, 6.5),
                                         gridspec_kw={"height_ratios": [3, 1.5], "hspace": 0.05})
    palette = ["tab:red", "tab:blue", "tab:green", "tab:orange", "tab:purple", "tab:brown", "tab:pink"]
    colours = {sample: palette[k % len(palette)] for k, sample in enumerate(samples)}
    for sample in samples:
        top.stairs(table[f"{sample}_density"], edges, color=colours[sample],
                   label=PROCESS_LABELS.get(sample, sample), linewidth=1.5)
    backgrounds = sorted({background for _, background, _ in pairs})
    styles = dict(zip(backgrounds, ["-", "--", ":", "-."] * len(backgrounds)))
    for signal, background, pair_score in pairs:
        scan_path = directory / f"significance_{signal}_vs_{background}_{score}_scan.csv"
        if pair_score != score or not scan_path.exists():
            continue
        scan = read_table(scan_path)
        bottom.plot(scan["cut"], scan["significance"], color=colours.get(signal, "black"),
                    linestyle=styles[background], label=pair_label(signal, background))
    top.set_yscale("log")
    top.set_ylabel("fraction of events / unit")
    top.set_title(score_label(score))
    top.legend(fontsize=8, frameon=False)
    top.grid(alpha=0.3)
    bottom.set_xlabel(f"lower cut on {score_label(score)}")
    bottom.set_ylabel(r"$s/\sqrt{b}$")
    bottom.legend(fontsize=7, frameon=False)
    bottom.grid(alpha=0.3)
    output = directory / f"significance_{score}.png"
    figure.savefig(output, dpi=120, bbox_inches="tight")
    plt.close(figure)
    return output


def plot_roc(directory: Path, signal: str, background: str, scores: list) -> Path:
    """Draw the ROC curves of every score for one signal and background pair and return the PNG path."""
    figure, axis = plt.subplots(figsize=(6, 5.5))
    networks = [s for s in scores if s[: -len("_Sig")] not in COLOURS]
    for score in scores:
        path = directory / f"significance_{signal}_vs_{background}_{score}_roc.csv"
        if not path.exists():
            continue
        roc = read_table(path)
        prefix = score[: -len("_Sig")]
        colour = COLOURS.get(prefix, NETWORK_COLOURS[networks.index(score) % len(NETWORK_COLOURS)]
                             if score in networks else "black")
        axis.plot(roc["background_efficiency"], roc["signal_efficiency"], color=colour, label=score_label(score),
                  linewidth=2 if score in networks else 1)
    axis.plot([0, 1], [0, 1], color="black", linestyle=":", linewidth=0.8)
    axis.set_xscale("log")
    axis.set_xlim(1e-3, 1)
    axis.set_xlabel(f"background ({PROCESS_LABELS.get(background, background)}) efficiency")
    axis.set_ylabel(f"signal ({PROCESS_LABELS.get(signal, signal)}) efficiency")
    axis.legend(fontsize=8, frameon=False)
    axis.grid(alpha=0.3)
    # The name without the background is kept for Z -> mu mu, the default background.
    suffix = signal if background == DEFAULT_BACKGROUND else f"{signal}_vs_{background}"
    output = directory / f"significance_roc_{suffix}.png"
    figure.savefig(output, dpi=120, bbox_inches="tight")
    plt.close(figure)
    return output


def main() -> None:
    """Find the tables in the directory and render every figure they support."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("directory", type=Path, help="output directory of metnet evaluate")
    parser.add_argument("--atlas", type=Path, default=None,
                        help="folder with the ATLAS tables (<process>_rmse_vs_*.csv) for a METNet/Tight reference line")
    parser.add_argument("--record", type=Path, default=None,
                        help="write the drawn ratio lines and hatched bands of the resolution figures to this JSON file")
    arguments = parser.parse_args()
    directory = arguments.directory
    if not directory.is_dir():
        parser.error(f"{directory} is not a directory; pass the -o folder of metnet evaluate")
    written = []
    record = {} if arguments.record is not None else None
    for path in sorted(directory.glob("*_resolution_vs_*.csv")):
        process, variable = re.fullmatch(r"(.+)_resolution_vs_(.+)\.csv", path.name).groups()
        written.append(plot_resolution(path, process, variable, arguments.atlas, record))
    for path in sorted(directory.glob("*_linearity.csv")):
        written.append(plot_linearity(path, path.name[: -len("_linearity.csv")]))
    for path in sorted(directory.glob("*_met_distribution.csv")):
        written.append(plot_distribution(path, path.name[: -len("_met_distribution.csv")]))
    scores = [p.name[len("significance_"): -len("_distribution.csv")]
              for p in sorted(directory.glob("significance_*_distribution.csv"))]
    pairs = significance_pairs(directory)
    for score in scores:
        written.append(plot_significance(directory, score, pairs))
    for signal, background in sorted({(signal, background) for signal, background, _ in pairs}):
        written.append(plot_roc(directory, signal, background, scores))
    if not written:
        parser.error(f"no evaluation tables found in {directory}; run metnet evaluate -o {directory} first")
    if record is not None:
        arguments.record.write_text(json.dumps(record, indent=1) + "\n")
    for path in written:
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
