// SPDX-License-Identifier: MIT
#pragma once
// `metnet evaluate`: the METNet evaluation tables of an event file.
//
//   metnet evaluate EVENTS... [--weights W.json ...] [--name NAME ...] -o DIR [--plots]
//                   [--bootstrap N [--bootstrap-seed S]] [--zmumu-muons N]
//                   [--background PROCESS ...] [--background-file FILE ...]
//
// Predicts the MET with each weights file (or takes the METNet_EX/_EY/_Sig
// columns already in the file), splits the events by ProcessID when the
// column exists, and writes per process, as CSV in DIR:
//   <process>_resolution_vs_{true_met,mu,npv,sumet}.csv   every working point's
//       Final MET and each METNet, with the ratio to Tight (ATLAS binnings)
//   <process>_linearity.csv                                in bins of true MET
//   <process>_met_distribution.csv, <process>_met_distances.csv
// and, when a Gaussian NLL model (METNetSig) is evaluated and both a
// background and a signal sample are present, the significance tables
//   significance_summary.csv, significance_<score>_distribution.csv,
//   significance_<signal>_vs_<background>_<score>_{scan,roc}.csv
// for every pair of a signal and a background. The backgrounds are the
// processes named by --background and the files given by --background-file
// (Z -> mu mu when neither is given); every other process is a signal.
// Every table is computed before the first one is written, so bad input
// leaves no output behind. Prints a summary table; with --plots it runs
// scripts/plot_results.py on DIR.

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "../common.hpp"
#include "metnet/evaluation.hpp"
#include "metnet/model/metnet.hpp"
#include "metnet/simulation/process.hpp"

namespace metnet::cli {

struct EvaluateArguments {
  std::vector<std::filesystem::path> events;
  std::vector<std::filesystem::path> weights;
  std::vector<std::string> names;
  std::filesystem::path output;
  std::string unit = "GeV";
  std::string mu_column = "ActMu";
  std::string weight_column;
  double signal_yield = 0.0;              // 0: the signal sample's summed weight
  std::vector<double> background_yields;  // empty or 0: the background sample's summed weight
  std::vector<std::string> backgrounds;   // process names; empty: zmumu if present
  std::vector<std::filesystem::path> background_files;
  std::optional<int> zmumu_muons;  // keep only Z -> mu mu events with this N_Muons
  int bootstrap = 0;               // bootstrap replicas for the RMS errors; 0: analytic errors
  std::uint64_t bootstrap_seed = 1;
  int threads = 1;
  bool plots = false;
  std::filesystem::path plot_script = std::filesystem::path(__FILE__).parent_path() / "../../../scripts/plot_results.py";
  std::string python = "/usr/bin/python3";
};

// One METNet estimate: its name, columns, and the METNetSig column if any.
struct NetworkEstimate {
  Estimator estimator;
  std::string significance_column;  // empty for a non-probabilistic model
};

namespace detail_evaluate {

inline EventTable select_rows(const EventTable& events, const std::vector<Index>& rows) {
  Matrix<float> values(static_cast<Index>(rows.size()), events.cols());
  for (std::size_t k = 0; k < rows.size(); ++k) {
    values.row(static_cast<Index>(k)) = events.values().row(rows[k]);
  }
  return EventTable(events.columns(), std::move(values));
}

// The events of each process, by ProcessID; all events as "all" otherwise.
inline std::map<std::string, EventTable> split_by_process(const EventTable& events) {
  std::map<std::string, EventTable> parts;
  if (!events.has_column("ProcessID")) {
    parts.emplace("all", events);
    return parts;
  }
  std::map<std::string, std::vector<Index>> rows;
  const auto codes = events.column("ProcessID");
  for (Index i = 0; i < events.rows(); ++i) {
    rows[std::string(process_name(process_from_code(static_cast<int>(std::lround(codes(i))))))].push_back(i);
  }
  for (const auto& [name, list] : rows) {
    parts.emplace(name, select_rows(events, list));
  }
  return parts;
}

inline Vector<double> magnitude(const EventTable& events, const std::string& x, const std::string& y) {
  const Vector<double> ex = events.column(x).cast<double>();
  const Vector<double> ey = events.column(y).cast<double>();
  return ex.binaryExpr(ey, [](double a, double b) { return std::hypot(a, b); });
}

inline Vector<double> event_weights(const EventTable& events, const std::string& column) {
  return column.empty() ? Vector<double>() : Vector<double>(events.column(column).cast<double>());
}

// Adds the prediction of one weights file as <name>_EX, _EY (and _Sig).
inline NetworkEstimate add_prediction(EventTable& events, const std::filesystem::path& weights,
                                      const std::string& name, int threads) {
  NetworkEstimate estimate{{name, name + "_EX", name + "_EY"}, {}};
  for (const std::string& column : {estimate.estimator.x_column, estimate.estimator.y_column, name + "_Sig"}) {
    if (events.has_column(column)) {
      throw FormatError("the event file already has a column '" + column + "'; choose another --name for " +
                        weights.string());
    }
  }
  with_loaded_model(weights, [&](const auto& model) {
    const auto prediction = model.predict(events, threads);
    events.add_column(estimate.estimator.x_column, prediction.px);
    events.add_column(estimate.estimator.y_column, prediction.py);
    if constexpr (std::remove_cvref_t<decltype(model)>::is_probabilistic) {
      events.add_column(name + "_Sig", prediction.significance);
      estimate.significance_column = name + "_Sig";
    }
  });
  return estimate;
}

struct ProcessBinnings {
  Binning true_met;
  Binning sumet;
  Binning met;
};

// ATLAS binnings for Z -> mu mu (no real MET), ttbar-like ones otherwise;
// the SUSY stop signal gets 50 GeV true-MET bins up to 1 TeV, where its MET lies.
inline ProcessBinnings binnings_for(const std::string& process) {
  if (process == "zmumu") {
    return {atlas_binning::zmumu_true_met(), atlas_binning::zmumu_sumet(), Binning::uniform(40, 0.0, 100.0)};
  }
  if (process == "stop") {
    return {Binning::uniform(20, 0.0, 1000.0), atlas_binning::ttbar_sumet(), Binning::uniform(50, 0.0, 1250.0)};
  }
  return {atlas_binning::ttbar_true_met(), atlas_binning::ttbar_sumet(), atlas_binning::ttbar_met()};
}

// The tables of one run, kept in memory until every one is computed.
struct PendingTables {
  std::vector<std::pair<std::string, ResultTable>> files;  // file name in the output folder, table

  void add(std::string name, ResultTable table) { files.emplace_back(std::move(name), std::move(table)); }
};

// One line of the printed summary.
struct SummaryRow {
  std::string process;
  std::string estimator;
  Index events = 0;
  double rms = 0.0;
  double ratio_to_tight = 0.0;
  double wasserstein = 0.0;
};

// Adds the resolution, linearity and distribution tables of one process to
// `tables` and returns its summary rows.
inline std::vector<SummaryRow> evaluate_process(const std::string& process, EventTable events,
                                                const std::vector<Estimator>& estimators,
                                                const EvaluateArguments& arguments, PendingTables& tables) {
  const ProcessBinnings binnings = binnings_for(process);
  const Vector<double> true_met = magnitude(events, "True_EX", "True_EY");
  if (!events.has_column("True_ET")) {
    events.add_column("True_ET", true_met.cast<float>());
  }
  ResolutionOptions options;
  options.weight_column = arguments.weight_column;
  options.bootstrap = {arguments.bootstrap, arguments.bootstrap_seed};

  const std::vector<std::pair<std::string, std::pair<std::string, Binning>>> profiles{
      {"true_met", {"True_ET", binnings.true_met}},
      {"mu", {arguments.mu_column, atlas_binning::mu()}},
      {"npv", {"NVx_2Tracks", npv_binning()}},
      {"sumet", {"Tight_Final_SumET", binnings.sumet}},
  };
  for (const auto& [suffix, variable] : profiles) {
    if (!events.has_column(variable.first)) {
      std::cerr << "metnet evaluate: " << process << ": no column '" << variable.first << "', skipping the resolution vs "
                << suffix << '\n';
      continue;
    }
    const ResolutionProfile profile = resolution_profile(events, variable.first, variable.second, estimators, options);
    tables.add(process + "_resolution_vs_" + suffix + ".csv", resolution_table(profile));
  }
  options.bootstrap = {};  // the linearity has its own analytic error
  tables.add(process + "_linearity.csv",
             linearity_table(linearity_profile(events, binnings.true_met, estimators, options)));

  // MET distributions and distances to the true MET.
  const Vector<double> weights = event_weights(events, arguments.weight_column);
  std::vector<std::string> names{"True"};
  std::vector<Histogram> histograms{histogram(true_met, weights, binnings.met)};
  const Binning wide = Binning::uniform(200, 0.0, 1000.0);  // distances: 5 GeV bins plus the overflow
  const Histogram true_wide = histogram(true_met, weights, wide);
  ResultTable distances({"estimator", "range", "wasserstein_gev", "chi2", "ndf"});
  std::vector<SummaryRow> summary;
  const Binning one_bin({-std::numeric_limits<double>::max(), std::numeric_limits<double>::max()});
  double tight_rms = std::numeric_limits<double>::quiet_NaN();
  for (const Estimator& estimator : estimators) {
    const Vector<double> met = magnitude(events, estimator.x_column, estimator.y_column);
    names.push_back(estimator.name);
    histograms.push_back(histogram(met, weights, binnings.met));
    const Histogram met_wide = histogram(met, weights, wide);
    const double w_all = wasserstein_distance(met, weights, true_met, weights);
    const double w_low = wasserstein_distance(met, weights, true_met, weights, 0.0, 100.0);
    const Chi2Result chi2_all = chi2_distance(met_wide, true_wide);
    const Chi2Result chi2_low = chi2_distance(met_wide, true_wide, 0.0, 100.0);
    distances.add_row(std::vector<std::string>{estimator.name, "all", format_number(w_all), format_number(chi2_all.chi2),
                                               std::to_string(chi2_all.ndf)});
    distances.add_row(std::vector<std::string>{estimator.name, "0-100", format_number(w_low),
                                               format_number(chi2_low.chi2), std::to_string(chi2_low.ndf)});

    const Vector<double> dx = events.column(estimator.x_column).cast<double>() - events.column("True_EX").cast<double>();
    const Vector<double> dy = events.column(estimator.y_column).cast<double>() - events.column("True_EY").cast<double>();
    const BinnedRms overall = binned_rms(true_met, dx, dy, weights, one_bin);
    if (estimator.name == "Tight") {
      tight_rms = overall.rms[0];
    }
    summary.push_back({process, estimator.name, events.rows(), overall.rms[0], 0.0, w_all});
  }
  for (SummaryRow& row : summary) {
    row.ratio_to_tight = row.rms / tight_rms;
  }
  tables.add(process + "_met_distribution.csv", histogram_table(names, histograms));
  tables.add(process + "_met_distances.csv", distances);
  return summary;
}

// Summed event weight of a sample; its event count for unit weights.
inline double total_weight(const ScoreSample& sample) {
  return sample.weights.size() > 0 ? sample.weights.sum() : static_cast<double>(sample.scores.size());
}

// A sample for the significance tables: a process of the event files or a
// --background-file.
struct NamedSample {
  std::string name;
  const EventTable* events = nullptr;
};

// The signal and background samples of the significance tables.
struct SignificanceSamples {
  std::vector<NamedSample> signals;
  std::vector<NamedSample> backgrounds;
};

// Cut scans, ROC curves and score distributions for every pair of a signal
// and a background sample; adds nothing when there is nothing to compare.
inline bool evaluate_significance(const SignificanceSamples& samples, const std::vector<std::string>& scores,
                                  const EvaluateArguments& arguments, PendingTables& tables) {
  if (samples.signals.empty() || samples.backgrounds.empty() || scores.empty()) {
    return false;
  }
  std::vector<double> cuts;
  for (int k = 0; k <= 120; ++k) {
    cuts.push_back(0.25 * k);
  }
  const Binning score_binning = Binning::uniform(60, 0.0, 30.0);
  ResultTable summary({"signal", "background", "score", "auc", "signal_efficiency_at_background_0.01",
                       "signal_efficiency_at_background_0.1", "max_significance", "cut_at_max"});
  const auto score_sample = [&](const NamedSample& sample, const std::string& score) {
    return ScoreSample{sample.events->column(score).cast<double>(), event_weights(*sample.events, arguments.weight_column)};
  };
  for (const std::string& score : scores) {
    // Score distributions of every sample, the signals first.
    std::vector<std::string> names;
    std::vector<Histogram> histograms;
    for (const std::vector<NamedSample>* group : {&samples.signals, &samples.backgrounds}) {
      for (const NamedSample& sample : *group) {
        const ScoreSample values = score_sample(sample, score);
        names.push_back(sample.name);
        histograms.push_back(histogram(values.scores, values.weights, score_binning));
      }
    }
    tables.add("significance_" + score + "_distribution.csv", histogram_table(names, histograms));

    for (std::size_t k = 0; k < samples.backgrounds.size(); ++k) {
      const NamedSample& background = samples.backgrounds[k];
      const ScoreSample b = score_sample(background, score);
      const double b_total =
          arguments.background_yields.empty() || arguments.background_yields[k] == 0.0 ? total_weight(b)
                                                                                        : arguments.background_yields[k];
      for (const NamedSample& signal : samples.signals) {
        const ScoreSample s = score_sample(signal, score);
        const double s_total = arguments.signal_yield > 0 ? arguments.signal_yield : total_weight(s);
        const CutScan scan = cut_scan(s, b, cuts, s_total, b_total);
        const RocCurve roc = roc_curve(s, b);
        const std::string stem = "significance_" + signal.name + "_vs_" + background.name + "_" + score;
        tables.add(stem + "_scan.csv", cut_scan_table(scan));
        tables.add(stem + "_roc.csv", roc_table(roc));

        double best = std::numeric_limits<double>::quiet_NaN();
        double best_cut = std::numeric_limits<double>::quiet_NaN();
        for (std::size_t c = 0; c < scan.cuts.size(); ++c) {
          if (!std::isnan(scan.significance[c]) && !(scan.significance[c] <= best)) {
            best = scan.significance[c];
            best_cut = scan.cuts[c];
          }
        }
        summary.add_row(std::vector<std::string>{
            signal.name, background.name, score, format_number(roc_auc(s, b)),
            format_number(signal_efficiency_at(roc, 0.01)), format_number(signal_efficiency_at(roc, 0.1)),
            format_number(best), format_number(best_cut)});
      }
    }
  }
  tables.add("significance_summary.csv", summary);
  return true;
}

inline std::string shell_quote(const std::string& text) {
  std::string quoted = "'";
  for (const char c : text) {
    quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  }
  return quoted + "'";
}

// Keeps the Z -> mu mu events with N_Muons == muons (the ATLAS selection is
// exactly two). Throws ConfigError when there are no Z -> mu mu events and
// FormatError when the column is missing or no event is left.
inline void select_zmumu_muons(std::map<std::string, EventTable>& processes, int muons) {
  const auto zmumu = processes.find("zmumu");
  if (zmumu == processes.end()) {
    throw ConfigError("--zmumu-muons: the event files have no Z -> mu mu events (ProcessID 2); drop the option or "
                      "add a Z -> mu mu file");
  }
  const EventTable& events = zmumu->second;
  if (!events.has_column("N_Muons")) {
    throw FormatError("--zmumu-muons: the event files have no column 'N_Muons' (the reconstructed muon count); "
                      "simulate the events with metnet simulate or drop the option");
  }
  const auto counts = events.column("N_Muons");
  std::vector<Index> rows;
  for (Index i = 0; i < events.rows(); ++i) {
    if (counts(i) == static_cast<float>(muons)) {
      rows.push_back(i);
    }
  }
  if (rows.empty()) {
    throw FormatError("--zmumu-muons " + std::to_string(muons) + ": none of the " + std::to_string(events.rows()) +
                      " Z -> mu mu events has N_Muons == " + std::to_string(muons));
  }
  std::cout << "zmumu: kept " << rows.size() << " of " << events.rows() << " events with N_Muons == " << muons
            << '\n';
  zmumu->second = select_rows(events, rows);
}

// The name of a --background-file in the tables: its stem, with characters
// other than letters, digits, '-', '_' and '.' replaced by '-'.
inline std::string sample_name_of(const std::filesystem::path& path) {
  std::string name = path.stem().string();
  for (char& c : name) {
    const bool plain = std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '-' || c == '_' || c == '.';
    c = plain ? c : '-';
  }
  return name;
}

// Throws ConfigError on option combinations that cannot work, before any
// file is read.
inline void check_evaluate_arguments(const EvaluateArguments& arguments) {
  if (!arguments.names.empty() && arguments.names.size() != arguments.weights.size()) {
    throw ConfigError("--name: give one name per --weights file (" + std::to_string(arguments.weights.size()) +
                      " files, " + std::to_string(arguments.names.size()) + " names)");
  }
  if (arguments.bootstrap < 0 || arguments.bootstrap == 1) {
    throw ConfigError("--bootstrap: expected 0 (analytic errors) or at least 2 replicas, found " +
                      std::to_string(arguments.bootstrap) + "; 200 or more give a stable error");
  }
  for (const std::string& name : arguments.backgrounds) {
    parse_process(name);  // throws for an unknown process name
  }
  const std::size_t backgrounds =
      std::max<std::size_t>(1, arguments.backgrounds.size() + arguments.background_files.size());
  if (!arguments.background_yields.empty() && arguments.background_yields.size() != backgrounds) {
    throw ConfigError("--background-yield: give one value per background sample (" + std::to_string(backgrounds) +
                      " samples from --background and --background-file, " +
                      std::to_string(arguments.background_yields.size()) + " values)");
  }
  for (const double yield : arguments.background_yields) {
    if (!(yield >= 0.0) || !std::isfinite(yield)) {
      throw ConfigError("--background-yield: expected finite event counts >= 0 (0: the summed weight), found " +
                        format_number(yield));
    }
  }
  if (arguments.zmumu_muons && *arguments.zmumu_muons < 0) {
    throw ConfigError("--zmumu-muons: expected a muon count >= 0, found " + std::to_string(*arguments.zmumu_muons));
  }
  if (arguments.plots && !std::filesystem::exists(arguments.plot_script)) {
    throw IoError("--plots: the plotting script '" + arguments.plot_script.string() +
                  "' was not found; pass its path with --plot-script");
  }
}

// Reads each --background-file, adds the predictions of every weights file
// and checks that it has every score column.
inline std::vector<std::pair<std::string, EventTable>> read_background_files(
    const EvaluateArguments& arguments, const std::vector<std::string>& network_names,
    const std::vector<std::string>& scores, const std::map<std::string, EventTable>& processes) {
  std::vector<std::pair<std::string, EventTable>> files;
  for (const std::filesystem::path& path : arguments.background_files) {
    const std::string name = sample_name_of(path);
    const bool name_in_use = processes.count(name) > 0 ||
                       std::any_of(files.begin(), files.end(), [&](const auto& file) { return file.first == name; });
    if (name_in_use) {
      throw ConfigError("--background-file " + path.string() + ": the sample name '" + name +
                        "' is already used by a process or another file; rename the file");
    }
    EventTable events = read_events(path, parse_energy_unit(arguments.unit));
    try {
      for (std::size_t k = 0; k < arguments.weights.size(); ++k) {
        add_prediction(events, arguments.weights[k], network_names[k], arguments.threads);
      }
    } catch (const FormatError& error) {
      throw FormatError("--background-file " + path.string() + ": " + error.what());
    }
    for (const std::string& column : scores) {
      if (!events.has_column(column)) {
        throw FormatError("--background-file " + path.string() + ": missing score column '" + column +
                          "', which the signal samples have; add it or evaluate with --weights");
      }
    }
    if (!arguments.weight_column.empty() && !events.has_column(arguments.weight_column)) {
      throw FormatError("--background-file " + path.string() + ": missing event-weight column '" +
                        arguments.weight_column + "'");
    }
    files.emplace_back(name, std::move(events));
  }
  return files;
}

// Splits the samples into signals and backgrounds. An explicitly requested
// background must be present; the default (Z -> mu mu) may be absent.
inline SignificanceSamples significance_samples(const std::map<std::string, EventTable>& processes,
                                                const std::vector<std::pair<std::string, EventTable>>& files,
                                                const EvaluateArguments& arguments) {
  const bool explicit_backgrounds = !arguments.backgrounds.empty() || !arguments.background_files.empty();
  std::vector<std::string> requested = arguments.backgrounds;
  if (!explicit_backgrounds) {
    requested.push_back("zmumu");
  }
  std::set<std::string> background_names;
  SignificanceSamples samples;
  for (const std::string& name : requested) {
    const auto process = processes.find(name);
    if (process == processes.end()) {
      if (!explicit_backgrounds) {
        continue;
      }
      std::string found;
      for (const auto& [present, events] : processes) {
        found += (found.empty() ? "" : ", ") + present;
      }
      throw ConfigError("--background " + name + ": the event files have no " + name + " events (found: " + found +
                        "); add a file of that process or use --background-file");
    }
    if (background_names.insert(name).second) {
      samples.backgrounds.push_back({name, &process->second});
    }
  }
  for (const auto& [name, events] : files) {
    samples.backgrounds.push_back({name, &events});
  }
  for (const auto& [name, events] : processes) {
    if (background_names.count(name) == 0) {
      samples.signals.push_back({name, &events});
    }
  }
  if (explicit_backgrounds && samples.signals.empty()) {
    throw ConfigError("--background: every process of the event files is a background, so there is no signal; "
                      "add a signal file or name fewer backgrounds");
  }
  return samples;
}

}  // namespace detail_evaluate

inline void run_evaluate(const EvaluateArguments& arguments) {
  using namespace detail_evaluate;
  check_evaluate_arguments(arguments);
  EventTable events = read_events(arguments.events, parse_energy_unit(arguments.unit));
  for (const char* truth : {"True_EX", "True_EY"}) {
    if (!events.has_column(truth)) {
      throw FormatError(arguments.events.front().string() + ": missing truth column '" + truth +
                        "'; the evaluation compares every estimate with the true MET (True_EX, True_EY)");
    }
  }

  // Estimators: the working points in the file, then each METNet.
  std::vector<Estimator> estimators;
  std::vector<std::string> scores;
  std::vector<std::string> network_names;
  for (const Estimator& estimator : working_point_estimators()) {
    if (events.has_column(estimator.x_column) && events.has_column(estimator.y_column)) {
      estimators.push_back(estimator);
    }
  }
  for (std::size_t k = 0; k < arguments.weights.size(); ++k) {
    std::string name = arguments.names.empty() ? (arguments.weights.size() == 1 ? std::string("METNet")
                                                                                 : arguments.weights[k].stem().string())
                                               : arguments.names[k];
    const NetworkEstimate estimate = add_prediction(events, arguments.weights[k], name, arguments.threads);
    network_names.push_back(name);
    estimators.push_back(estimate.estimator);
    if (!estimate.significance_column.empty()) {
      scores.push_back(estimate.significance_column);
    }
  }
  if (arguments.weights.empty() && events.has_column("METNet_EX") && events.has_column("METNet_EY")) {
    estimators.push_back({"METNet", "METNet_EX", "METNet_EY"});
    if (events.has_column("METNet_Sig")) {
      scores.push_back("METNet_Sig");
    }
  }
  if (estimators.empty()) {
    throw FormatError(arguments.events.front().string() + ": no working-point Final MET and no METNet columns to evaluate");
  }
  const bool has_network = !arguments.weights.empty() || events.has_column("METNet_EX");
  if (!scores.empty()) {
    // Object-based significances for comparison with METNetSig.
    for (const Estimator& estimator : working_point_estimators()) {
      if (events.has_column(estimator.name + "_Sig")) {
        scores.push_back(estimator.name + "_Sig");
      }
    }
  }
  const bool explicit_backgrounds = !arguments.backgrounds.empty() || !arguments.background_files.empty();
  if (explicit_backgrounds && scores.empty()) {
    throw ConfigError("--background, --background-file: the significance tables need a METNetSig score; pass the "
                      "--weights file of a Gaussian NLL (gnll) model or an event file with METNet_Sig");
  }

  std::map<std::string, EventTable> processes = split_by_process(events);
  if (arguments.zmumu_muons) {
    select_zmumu_muons(processes, *arguments.zmumu_muons);
  }
  const std::vector<std::pair<std::string, EventTable>> background_files =
      read_background_files(arguments, network_names, scores, processes);

  // Every table is computed before the first is written.
  PendingTables tables;
  std::vector<SummaryRow> summary;
  for (const auto& [process, part] : processes) {
    for (SummaryRow& row : evaluate_process(process, part, estimators, arguments, tables)) {
      summary.push_back(std::move(row));
    }
  }
  const bool significance =
      evaluate_significance(significance_samples(processes, background_files, arguments), scores, arguments, tables);
  std::filesystem::create_directories(arguments.output);
  for (const auto& [name, table] : tables.files) {
    write_result_csv(arguments.output / name, table);
  }

  // The summary: resolution over all events of each process.
  std::cout << std::left << std::setw(8) << "process" << std::setw(12) << "estimator" << std::right << std::setw(9)
            << "events" << std::setw(11) << "RMS [GeV]" << std::setw(10) << "/ Tight" << std::setw(12) << "W1 [GeV]"
            << '\n';
  for (const SummaryRow& row : summary) {
    std::cout << std::left << std::setw(8) << row.process << std::setw(12) << row.estimator << std::right
              << std::setw(9) << row.events << std::fixed << std::setprecision(2) << std::setw(11) << row.rms
              << std::setprecision(3) << std::setw(10) << row.ratio_to_tight << std::setprecision(2) << std::setw(12)
              << row.wasserstein << '\n';
  }
  std::cout.unsetf(std::ios::floatfield);
  std::cout << "wrote the evaluation tables to " << arguments.output.string()
            << (significance ? " (with significance tables)" : "") << (has_network ? "" : " (no METNet columns)")
            << '\n';
  if (arguments.bootstrap > 0) {
    std::cout << "RMS errors: bootstrap, " << arguments.bootstrap << " replicas, seed " << arguments.bootstrap_seed
              << '\n';
  }

  if (arguments.plots) {
    const std::string command = shell_quote(arguments.python) + " " + shell_quote(arguments.plot_script.string()) +
                                " " + shell_quote(arguments.output.string());
    std::cout << std::flush;
    const int status = std::system(command.c_str());
    if (status != 0) {
      throw IoError("--plots: '" + command + "' failed with status " + std::to_string(status) +
                    "; the CSV tables are written, run the script by hand to see its error");
    }
  }
}

inline void add_evaluate_command(CLI::App& app) {
  auto arguments = std::make_shared<EvaluateArguments>();
  CLI::App* command = app.add_subcommand(
      "evaluate", "Write resolution, linearity, MET-distribution and significance tables (CSV) for an event file");
  command->add_option("events", arguments->events,
                      "Event files (.csv or .npy) with the working points, True_EX, True_EY and ProcessID; "
                      "the first file fixes the columns")
      ->required();
  command->add_option("--weights", arguments->weights,
                      "Weights files (.json) to evaluate; without any, the file's METNet_EX/_EY columns are used");
  command->add_option("--name", arguments->names, "Name of each weights file in the tables (default METNet, or the file stem)");
  command->add_option("-o,--output", arguments->output, "Directory for the CSV tables (created if missing)")->required();
  command->add_option("--unit", arguments->unit, "Energy unit of the event file: GeV or MeV")
      ->check(CLI::IsMember({"GeV", "MeV", "gev", "mev"}))
      ->capture_default_str();
  command->add_option("--mu-column", arguments->mu_column, "Pile-up column for the resolution vs <mu>: ActMu or AvgMu")
      ->capture_default_str();
  command->add_option("--weight-column", arguments->weight_column, "Event-weight column (default: unit weights)");
  command->add_option("--bootstrap", arguments->bootstrap,
                      "Bootstrap replicas for the RMS errors of the resolution tables (events resampled per bin; "
                      "200 or more recommended); 0 keeps the analytic delta-method error")
      ->capture_default_str();
  command->add_option("--bootstrap-seed", arguments->bootstrap_seed,
                      "Seed of the bootstrap; a seed gives the same errors on every run")
      ->capture_default_str();
  command->add_option("--zmumu-muons", arguments->zmumu_muons,
                      "Keep only Z -> mu mu events with this many reconstructed muons (column N_Muons), in every "
                      "table; ATLAS selects exactly 2. Default: all Z -> mu mu events");
  command->add_option("--background", arguments->backgrounds,
                      "Process of the event files (ttbar, ww, zmumu, stop, wlnu; by ProcessID) that is a background "
                      "in the significance tables; repeat for several, each compared with every signal. Every other "
                      "process is a signal. Default: zmumu")
      ->allow_extra_args(false);  // one value per --background, so a following event file stays positional
  command->add_option("--background-file", arguments->background_files,
                      "Event file (.csv or .npy) used only as a background in the significance tables, named by "
                      "its file stem; it needs the features of the --weights models (or METNet_Sig) and every "
                      "<working point>_Sig column of the event files")
      ->allow_extra_args(false);
  command->add_option("--signal-yield", arguments->signal_yield,
                      "Expected signal events before cuts for s/sqrt(b) (default: the summed signal weight)")
      ->check(CLI::NonNegativeNumber);
  command->add_option("--background-yield", arguments->background_yields,
                      "Expected background events before cuts, one value per background sample in the order of "
                      "--background then --background-file; 0 or no value: the sample's summed weight")
      ->allow_extra_args(false);
  command->add_option("--threads,-j", arguments->threads, "Threads for the forward pass")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  command->add_flag("--plots", arguments->plots, "Render PNG figures into the output directory with plot_results.py");
  command->add_option("--plot-script", arguments->plot_script, "Path of scripts/plot_results.py")->capture_default_str();
  command->add_option("--python", arguments->python, "Python interpreter with numpy and matplotlib")->capture_default_str();
  command->callback([arguments] { run_evaluate(*arguments); });
}

}  // namespace metnet::cli
