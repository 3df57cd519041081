// SPDX-License-Identifier: MIT
// Compares the parametric simulation with ATLAS MC16 figures.
//
// Simulates ttbar with the Run-2 mu profile and compares the mean and
// standard deviation of every feature, in the frame rotated so that Tight
// MET points along +x, with the ATLAS ttbar feature statistics. Compares
// the per-axis RMS of (MET - true) of every working point with ATLAS: in
// bins of mu for ttbar, Z -> mu mu and WW simulated with mu uniform in
// [10, 60], and in bins of true ET and Tight sum ET for ttbar and
// Z -> mu mu with the Run-2 mu profile. Z -> mu mu events need exactly two
// reconstructed muons. The ttbar bins above 210 GeV of true ET come from a
// second sample with a truth filter at 150 GeV. Last, compares the ttbar true and Tight MET spectra.
//
// Usage: simulation_calibration [--events N] [--profile-events N]
//                               [--threads T] [--seed S] [--out DIR]
// Writes feature_stats.csv, {ttbar,zmumu}_rmse_vs_{actmu,true_et,
// tight_final_sumet}.csv, ww_rmse_vs_actmu.csv, ttbar_met_spectra.csv,
// failing_bins.csv (every resolution bin more than 15 % away from ATLAS) and
// working_point_ordering.csv (the order of the working points at the lowest
// and highest mu against ATLAS) to DIR (default: current directory) and
// prints the tables. Exit status 0
// whatever the agreement, 1 if DIR cannot be written.

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "metnet/simulation.hpp"

namespace {

using metnet::EventTable;

struct Options {
  std::size_t events = 300000;
  std::size_t profile_events = 400000;
  unsigned threads = 2;
  std::uint64_t seed = 20210823;
  std::string out = ".";
};

struct CsvTable {
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;
};

CsvTable read_csv(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    throw metnet::IoError("cannot open '" + path + "': check METNET_SHARED_DATA_DIR");
  }
  CsvTable table;
  std::string line;
  bool first = true;
  while (std::getline(in, line)) {
    std::vector<std::string> cells;
    std::stringstream stream(line);
    std::string cell;
    while (std::getline(stream, cell, ',')) {
      cells.push_back(cell);
    }
    if (first) {
      table.header = cells;
      first = false;
    } else if (!cells.empty()) {
      table.rows.push_back(cells);
    }
  }
  return table;
}

// Opens a CSV for writing; throws IoError if the folder is missing or not writable.
std::ofstream open_output(const std::string& path) {
  std::ofstream out(path);
  if (!out) {
    throw metnet::IoError("cannot write '" + path + "': create the --out folder first or choose a writable one");
  }
  return out;
}

double mean_of(const std::vector<double>& v) {
  double s = 0.0;
  for (double x : v) {
    s += x;
  }
  return v.empty() ? 0.0 : s / static_cast<double>(v.size());
}

double std_of(const std::vector<double>& v) {
  const double m = mean_of(v);
  double s = 0.0;
  for (double x : v) {
    s += (x - m) * (x - m);
  }
  return v.empty() ? 0.0 : std::sqrt(s / static_cast<double>(v.size()));
}

// Feature values in the Tight-rotated frame, as the ATLAS statistics are.
std::map<std::string, std::vector<double>> rotated_features(const EventTable& table) {
  std::map<std::string, std::vector<double>> features;
  const auto& names = table.columns();
  const auto phi = table.column("Tight_Phi");
  for (std::size_t c = 0; c < names.size(); ++c) {
    const std::string& name = names[c];
    const auto col = table.values().col(static_cast<metnet::Index>(c));
    const bool is_x = name.size() > 3 && name.compare(name.size() - 3, 3, "_EX") == 0;
    const bool is_y = name.size() > 3 && name.compare(name.size() - 3, 3, "_EY") == 0;
    std::vector<double>& out = features[name];
    out.resize(static_cast<std::size_t>(table.rows()));
    for (metnet::Index i = 0; i < table.rows(); ++i) {
      double value = col(i);
      if (is_x || is_y) {
        const std::string stem = name.substr(0, name.size() - 3);
        const double x = table.values()(i, table.column_index(stem + "_EX"));
        const double y = table.values()(i, table.column_index(stem + "_EY"));
        const double c_phi = std::cos(phi(i));
        const double s_phi = std::sin(phi(i));
        value = is_x ? x * c_phi + y * s_phi : -x * s_phi + y * c_phi;
      }
      out[static_cast<std::size_t>(i)] = value;
    }
  }
  const auto tx = table.column("True_EX");
  const auto ty = table.column("True_EY");
  auto& rx = features["target_rotated_x"];
  auto& ry = features["target_rotated_y"];
  for (metnet::Index i = 0; i < table.rows(); ++i) {
    const double c_phi = std::cos(phi(i));
    const double s_phi = std::sin(phi(i));
    rx.push_back(tx(i) * c_phi + ty(i) * s_phi);
    ry.push_back(-tx(i) * s_phi + ty(i) * c_phi);
  }
  return features;
}

void compare_features(const EventTable& table, const std::string& data_dir, const std::string& out_dir) {
  const CsvTable atlas = read_csv(data_dir + "/atlas/ttbar_feature_stats.csv");
  const auto features = rotated_features(table);
  std::ofstream csv = open_output(out_dir + "/feature_stats.csv");
  csv << "feature,atlas_mean,atlas_std,sim_mean,sim_std,within_15_percent\n";
  std::printf("\nttbar feature statistics (Tight-rotated frame), %lld events\n",
              static_cast<long long>(table.rows()));
  std::printf("%-24s %10s %10s %10s %10s  %s\n", "feature", "ATLAS mean", "sim mean", "ATLAS std", "sim std", "ok");
  int passed = 0;
  int total = 0;
  for (const auto& row : atlas.rows) {
    const std::string& name = row[0];
    const double a_mean = std::stod(row[1]);
    const double a_std = std::stod(row[2]);
    const auto it = features.find(name);
    if (it == features.end()) {
      std::printf("%-24s missing from the simulation\n", name.c_str());
      continue;
    }
    const double s_mean = mean_of(it->second);
    const double s_std = std_of(it->second);
    // A mean near zero is compared on the scale of the ATLAS std.
    const double mean_scale = std::abs(a_mean) < a_std ? a_std : std::abs(a_mean);
    const bool ok = std::abs(s_mean - a_mean) <= 0.15 * mean_scale && std::abs(s_std - a_std) <= 0.15 * a_std;
    passed += ok ? 1 : 0;
    ++total;
    std::printf("%-24s %10.3f %10.3f %10.3f %10.3f  %s\n", name.c_str(), a_mean, s_mean, a_std, s_std,
                ok ? "yes" : "NO");
    csv << name << ',' << a_mean << ',' << a_std << ',' << s_mean << ',' << s_std << ',' << (ok ? 1 : 0) << '\n';
  }
  std::printf("features within 15%%: %d of %d (%.0f%%)\n", passed, total, 100.0 * passed / std::max(total, 1));
}

const std::vector<std::pair<std::string, std::string>> profile_wps = {
    {"Tight", "Tight"}, {"Loose", "Loose"}, {"Tighter", "Tghtr"}, {"FJVT", "FJVT"}, {"Calo", "Calo"},
    {"Track", "Track"}};

// Per-event inputs of a resolution profile: the binning variable and, per
// working point of profile_wps, 0.5 ((MET_x - true_x)^2 + (MET_y - true_y)^2).
struct ProfileSample {
  std::vector<double> variable;
  std::vector<std::vector<double>> squared_error;
};

// Reads `variable` ("True_ET" or any column) and the squared errors of every
// working point; with two_muons, keeps only events with N_Muons == 2.
ProfileSample profile_sample(const EventTable& table, const std::string& variable, bool two_muons) {
  const auto n_muons = table.column("N_Muons");
  const auto tx = table.column("True_EX");
  const auto ty = table.column("True_EY");
  const auto binned = table.column(variable);
  std::vector<metnet::Index> ex_columns;
  std::vector<metnet::Index> ey_columns;
  for (const auto& wp : profile_wps) {
    ex_columns.push_back(table.column_index(wp.second + "_Final_EX"));
    ey_columns.push_back(table.column_index(wp.second + "_Final_EY"));
  }
  ProfileSample sample;
  sample.squared_error.resize(profile_wps.size());
  for (metnet::Index i = 0; i < table.rows(); ++i) {
    if (two_muons && n_muons(i) != 2.0F) {
      continue;
    }
    sample.variable.push_back(binned(i));
    for (std::size_t w = 0; w < profile_wps.size(); ++w) {
      const double dx = table.values()(i, ex_columns[w]) - tx(i);
      const double dy = table.values()(i, ey_columns[w]) - ty(i);
      sample.squared_error[w].push_back(0.5 * (dx * dx + dy * dy));
    }
  }
  return sample;
}

// Joins two samples of one process at `split`: the events of `bulk` below
// it and those of `tail` at or above it. `tail` comes from a truth-filtered
// generation, which fills the high bins at a small fraction of the cost.
ProfileSample join_at(const ProfileSample& bulk, const ProfileSample& tail, double split) {
  ProfileSample joined;
  joined.squared_error.resize(profile_wps.size());
  for (const ProfileSample* part : {&bulk, &tail}) {
    for (std::size_t i = 0; i < part->variable.size(); ++i) {
      const bool below = part->variable[i] < split;
      if (below != (part == &bulk)) {
        continue;
      }
      joined.variable.push_back(part->variable[i]);
      for (std::size_t w = 0; w < profile_wps.size(); ++w) {
        joined.squared_error[w].push_back(part->squared_error[w][i]);
      }
    }
  }
  return joined;
}

// Bins with fewer simulated events are too noisy to count as failing.
constexpr std::size_t min_compared_events = 200;

// One working point in one bin of a resolution comparison that is more
// than 15 % away from ATLAS.
struct FailingBin {
  std::string comparison;  // output file stem, e.g. "zmumu_rmse_vs_actmu"
  double centre = 0.0;
  std::size_t events = 0;
  std::string working_point;
  double simulated = 0.0;
  double atlas = 0.0;
};

// Number of compared (working point, bin) pairs and the failing ones, per comparison.
struct ComparisonTally {
  std::vector<std::string> order;
  std::map<std::string, std::size_t> compared;
  std::vector<FailingBin> failing;

  void record(const std::string& comparison, double centre, std::size_t events, const std::string& working_point,
              double simulated, double atlas) {
    if (compared.find(comparison) == compared.end()) {
      order.push_back(comparison);
      compared[comparison] = 0;
    }
    if (events < min_compared_events) {
      return;
    }
    ++compared[comparison];
    if (std::abs(simulated - atlas) > 0.15 * atlas) {
      failing.push_back({comparison, centre, events, working_point, simulated, atlas});
    }
  }
};

std::string file_stem(const std::string& path) {
  const auto slash = path.find_last_of('/');
  const std::string name = slash == std::string::npos ? path : path.substr(slash + 1);
  return name.substr(0, name.rfind('.'));
}

// Simulated and ATLAS resolution of every working point of profile_wps in
// each bin of one comparison.
struct ProfileTable {
  std::string comparison;  // output file stem, e.g. "ttbar_rmse_vs_actmu"
  std::vector<double> centres;
  std::vector<std::size_t> counts;
  std::vector<std::vector<double>> simulated;  // [bin][working point]
  std::vector<std::vector<double>> atlas;      // [bin][working point]
};

// Per-axis RMS of (MET - true) per working point in the bins of an ATLAS
// profile file (first column: bin centres of uniform width), written side
// by side with ATLAS as CSV, printed and returned. A `*` marks a bin more
// than 15 % away from ATLAS; bins with fewer than min_compared_events
// simulated events get no mark and are not recorded in `tally`.
ProfileTable compare_profile(const ProfileSample& sample, const std::string& variable, const std::string& atlas_file,
                     const std::string& label, const std::string& out_path, ComparisonTally& tally) {
  CsvTable atlas = read_csv(atlas_file);
  // Some ATLAS files list their bins out of order.
  std::sort(atlas.rows.begin(), atlas.rows.end(),
            [](const auto& a, const auto& b) { return std::stod(a[0]) < std::stod(b[0]); });
  std::vector<double> centres;
  for (const auto& row : atlas.rows) {
    centres.push_back(std::stod(row[0]));
  }
  const double width = centres.size() > 1 ? centres[1] - centres[0] : 1.0;
  const double first_low = centres.front() - 0.5 * width;

  std::vector<std::size_t> counts(centres.size(), 0);
  std::vector<std::vector<double>> sums(centres.size(), std::vector<double>(profile_wps.size(), 0.0));
  for (std::size_t i = 0; i < sample.variable.size(); ++i) {
    const double position = (sample.variable[i] - first_low) / width;
    if (position < 0.0 || position >= static_cast<double>(centres.size())) {
      continue;
    }
    const auto b = static_cast<std::size_t>(position);
    ++counts[b];
    for (std::size_t w = 0; w < profile_wps.size(); ++w) {
      sums[b][w] += sample.squared_error[w][i];
    }
  }

  ProfileTable table{file_stem(out_path), centres, counts, {}, {}};
  std::ofstream csv = open_output(out_path);
  csv << "bin_centre,events";
  std::printf("\n%s: per-axis RMS(MET - true) in GeV by %s, simulation / ATLAS\n", label.c_str(), variable.c_str());
  std::printf("%8s %7s", "centre", "events");
  for (const auto& [atlas_name, sim_name] : profile_wps) {
    csv << ',' << sim_name << "_sim," << sim_name << "_atlas";
    std::printf(" %15s", sim_name.c_str());
  }
  csv << '\n';
  std::printf("\n");

  for (std::size_t b = 0; b < centres.size(); ++b) {
    csv << centres[b] << ',' << counts[b];
    std::printf("%8.2f %7zu", centres[b], counts[b]);
    table.simulated.emplace_back();
    table.atlas.emplace_back();
    for (std::size_t w = 0; w < profile_wps.size(); ++w) {
      const auto col = std::find(atlas.header.begin(), atlas.header.end(), profile_wps[w].first) - atlas.header.begin();
      const double a = std::stod(atlas.rows[b][static_cast<std::size_t>(col)]);
      const double s = counts[b] > 0 ? std::sqrt(sums[b][w] / static_cast<double>(counts[b])) : 0.0;
      table.simulated.back().push_back(s);
      table.atlas.back().push_back(a);
      csv << ',' << s << ',' << a;
      const bool marked = counts[b] >= min_compared_events && std::abs(s - a) > 0.15 * a;
      tally.record(file_stem(out_path), centres[b], counts[b], profile_wps[w].second, s, a);
      std::printf(" %6.2f/%6.2f%s", s, a, marked ? "*" : " ");
    }
    csv << '\n';
    std::printf("\n");
  }
  return table;
}

// WW has no ATLAS profile file: reference values at three mu points (ATLAS
// MC16 WW -> l nu l nu, METNet evaluation outputs), bins of +- 1.5625.
void compare_ww(const ProfileSample& sample, const std::string& out_path, ComparisonTally& tally) {
  const std::vector<std::pair<double, std::vector<double>>> atlas = {
      {11.6, {19.65, 19.58, 19.85, 19.56, 19.84, 33.99}},
      {36.6, {22.11, 23.25, 22.02, 21.81, 25.15, 34.56}},
      {58.4, {25.57, 29.35, 24.79, 24.54, 30.84, 34.86}}};
  std::ofstream csv = open_output(out_path);
  csv << "bin_centre,events";
  for (const auto& wp : profile_wps) {
    csv << ',' << wp.second << "_sim," << wp.second << "_atlas";
  }
  csv << '\n';
  std::printf("\nWW: per-axis RMS(MET - true) in GeV by mu (bin +- 1.56), simulation / ATLAS\n");
  for (const auto& [centre, values] : atlas) {
    std::vector<double> sums(profile_wps.size(), 0.0);
    std::size_t count = 0;
    for (std::size_t i = 0; i < sample.variable.size(); ++i) {
      if (std::abs(sample.variable[i] - centre) > 1.5625) {
        continue;
      }
      ++count;
      for (std::size_t w = 0; w < profile_wps.size(); ++w) {
        sums[w] += sample.squared_error[w][i];
      }
    }
    csv << centre << ',' << count;
    std::printf("%8.2f %7zu", centre, count);
    for (std::size_t w = 0; w < profile_wps.size(); ++w) {
      const double s = std::sqrt(sums[w] / static_cast<double>(std::max<std::size_t>(count, 1)));
      csv << ',' << s << ',' << values[w];
      tally.record(file_stem(out_path), centre, count, profile_wps[w].second, s, values[w]);
      const bool marked = count >= min_compared_events && std::abs(s - values[w]) > 0.15 * values[w];
      std::printf(" %6.2f/%6.2f%s", s, values[w], marked ? "*" : " ");
    }
    csv << '\n';
    std::printf("\n");
  }
}

// True and Tight MET spectra of ttbar against the ATLAS 1 GeV histograms,
// both normalised to unit area over 0-500 GeV. Writes the 1 GeV densities
// and prints them merged into 25 GeV bins, with the means and the largest
// distance between the cumulative distributions.
void compare_met_spectra(const EventTable& table, const std::string& atlas_file, const std::string& out_path) {
  const CsvTable atlas = read_csv(atlas_file);
  const std::size_t bins = atlas.rows.size();  // 1 GeV bins from 0
  std::vector<double> atlas_true(bins);
  std::vector<double> atlas_tight(bins);
  for (std::size_t b = 0; b < bins; ++b) {
    atlas_true[b] = std::stod(atlas.rows[b][1]);
    atlas_tight[b] = std::stod(atlas.rows[b][2]);
  }
  std::vector<double> sim_true(bins, 0.0);
  std::vector<double> sim_tight(bins, 0.0);
  const auto fill = [&](const std::string& column, std::vector<double>& histogram) {
    const auto values = table.column(column);
    for (metnet::Index i = 0; i < table.rows(); ++i) {
      const double v = values(i);
      if (v >= 0.0 && v < static_cast<double>(bins)) {
        histogram[static_cast<std::size_t>(v)] += 1.0;
      }
    }
  };
  fill("True_ET", sim_true);
  fill("Tight_Final_ET", sim_tight);
  for (std::vector<double>* h : {&atlas_true, &atlas_tight, &sim_true, &sim_tight}) {
    double total = 0.0;
    for (double x : *h) {
      total += x;
    }
    for (double& x : *h) {
      x /= std::max(total, 1.0);
    }
  }

  std::ofstream csv = open_output(out_path);
  csv << "bin_centre,true_et_atlas,true_et_sim,tight_et_atlas,tight_et_sim\n";
  for (std::size_t b = 0; b < bins; ++b) {
    csv << b + 0.5 << ',' << atlas_true[b] << ',' << sim_true[b] << ',' << atlas_tight[b] << ',' << sim_tight[b]
        << '\n';
  }

  std::printf("\nttbar (Run-2 mu): true and Tight MET spectra, share of events per 25 GeV bin, simulation / ATLAS\n");
  std::printf("%10s %17s %17s\n", "MET (GeV)", "true ET", "Tight ET");
  for (std::size_t low = 0; low < bins; low += 25) {
    double at = 0.0;
    double st = 0.0;
    double ag = 0.0;
    double sg = 0.0;
    for (std::size_t b = low; b < std::min(bins, low + 25); ++b) {
      at += atlas_true[b];
      st += sim_true[b];
      ag += atlas_tight[b];
      sg += sim_tight[b];
    }
    std::printf("%4zu-%-5zu %8.4f/%8.4f %8.4f/%8.4f\n", low, std::min(bins, low + 25), st, at, sg, ag);
  }
  const auto summary = [&](const char* name, const std::vector<double>& sim, const std::vector<double>& ref) {
    double sim_mean = 0.0;
    double ref_mean = 0.0;
    double sim_cdf = 0.0;
    double ref_cdf = 0.0;
    double distance = 0.0;
    for (std::size_t b = 0; b < bins; ++b) {
      sim_mean += (b + 0.5) * sim[b];
      ref_mean += (b + 0.5) * ref[b];
      sim_cdf += sim[b];
      ref_cdf += ref[b];
      distance = std::max(distance, std::abs(sim_cdf - ref_cdf));
    }
    std::printf("%s below 500 GeV: mean %.1f / %.1f GeV, max |CDF difference| %.3f\n", name, sim_mean, ref_mean,
                distance);
  };
  summary("true ET", sim_true, atlas_true);
  summary("Tight ET", sim_tight, atlas_tight);
}

// Prints the number of failing (working point, bin) pairs of every
// resolution comparison and lists each one; writes the list as CSV.
void summarise_failing_bins(const ComparisonTally& tally, const std::string& out_path) {
  std::ofstream csv = open_output(out_path);
  csv << "comparison,bin_centre,events,working_point,sim,atlas,relative_difference\n";
  std::printf("\nResolution bins more than 15 %% away from ATLAS (bins with >= %zu simulated events)\n",
              min_compared_events);
  for (const std::string& comparison : tally.order) {
    const auto failing = std::count_if(tally.failing.begin(), tally.failing.end(),
                                       [&](const FailingBin& f) { return f.comparison == comparison; });
    std::printf("%-34s %3td of %3zu failing\n", comparison.c_str(), failing, tally.compared.at(comparison));
  }
  for (const FailingBin& f : tally.failing) {
    const double relative = f.simulated / f.atlas - 1.0;
    std::printf("  %-34s %8.2f %7zu %-6s %7.2f / %7.2f  %+5.0f %%\n", f.comparison.c_str(), f.centre, f.events,
                f.working_point.c_str(), f.simulated, f.atlas, 100.0 * relative);
    csv << f.comparison << ',' << f.centre << ',' << f.events << ',' << f.working_point << ',' << f.simulated << ','
        << f.atlas << ',' << relative << '\n';
  }
  std::printf("failing bins in total: %zu\n", tally.failing.size());
}

// ATLAS gives no uncertainties with its profiles. Two working points closer
// than this share of the larger resolution count as tied in ATLAS, and
// their order in the simulation is not checked.
constexpr double ordering_tie_share = 0.005;

// Working points of profile_wps in bin `b`, ordered from the best (lowest)
// to the worst resolution, written as "Calo 23.23 < Loose 23.53 < ...".
// With `ties`, a gap below ordering_tie_share is written as "=".
std::string ranking(const std::vector<double>& values, bool ties) {
  std::vector<std::size_t> index(values.size());
  for (std::size_t w = 0; w < index.size(); ++w) {
    index[w] = w;
  }
  std::stable_sort(index.begin(), index.end(), [&](std::size_t a, std::size_t b) { return values[a] < values[b]; });
  std::string text;
  for (std::size_t k = 0; k < index.size(); ++k) {
    if (k > 0) {
      const double gap = values[index[k]] - values[index[k - 1]];
      text += ties && gap < ordering_tie_share * values[index[k]] ? " = " : " < ";
    }
    char cell[32];
    std::snprintf(cell, sizeof cell, "%s %.2f", profile_wps[index[k]].second.c_str(), values[index[k]]);
    text += cell;
  }
  return text;
}

// Compares the order of the working points' resolutions with ATLAS in the
// lowest and the highest bin of each table. A pair of working points is in
// the opposite order if ATLAS separates them by at least ordering_tie_share
// and the simulation ranks them the other way. Prints both rankings and
// every swapped pair, and writes each checked pair as CSV.
void compare_ordering(const std::vector<ProfileTable>& tables, const std::string& out_path) {
  std::ofstream csv = open_output(out_path);
  csv << "comparison,bin_centre,better_in_atlas,worse_in_atlas,atlas_better,atlas_worse,sim_better,sim_worse,"
         "same_order\n";
  std::printf("\nWorking-point ordering at the lowest and highest bin, best first (ATLAS pairs closer than %.1f %% "
              "are ties, written as =, and not checked)\n",
              100.0 * ordering_tie_share);
  std::size_t swapped_total = 0;
  for (const ProfileTable& table : tables) {
    for (const std::size_t b : {std::size_t{0}, table.centres.size() - 1}) {
      const std::vector<double>& atlas = table.atlas[b];
      const std::vector<double>& sim = table.simulated[b];
      std::printf("%s, bin %.2f (%zu events)\n", table.comparison.c_str(), table.centres[b], table.counts[b]);
      std::printf("  ATLAS:      %s\n", ranking(atlas, true).c_str());
      std::printf("  simulation: %s\n", ranking(sim, false).c_str());
      std::string swapped;
      for (std::size_t i = 0; i < atlas.size(); ++i) {
        for (std::size_t j = 0; j < atlas.size(); ++j) {
          // Pair (i, j) with i better than j in ATLAS by more than a tie.
          if (atlas[j] - atlas[i] < ordering_tie_share * atlas[j]) {
            continue;
          }
          const bool same = sim[i] < sim[j];
          csv << table.comparison << ',' << table.centres[b] << ',' << profile_wps[i].second << ','
              << profile_wps[j].second << ',' << atlas[i] << ',' << atlas[j] << ',' << sim[i] << ',' << sim[j]
              << ',' << (same ? 1 : 0) << '\n';
          if (!same) {
            swapped += " " + profile_wps[i].second + "/" + profile_wps[j].second;
            ++swapped_total;
          }
        }
      }
      std::printf("  pairs in the opposite order:%s\n", swapped.empty() ? " none" : swapped.c_str());
    }
  }
  std::printf("working-point pairs in the opposite order in total: %zu\n", swapped_total);
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string key = argv[i];
    const std::string value = argv[i + 1];
    if (key == "--events") {
      options.events = std::stoull(value);
    } else if (key == "--profile-events") {
      options.profile_events = std::stoull(value);
    } else if (key == "--threads") {
      options.threads = static_cast<unsigned>(std::stoul(value));
    } else if (key == "--seed") {
      options.seed = std::stoull(value);
    } else if (key == "--out") {
      options.out = value;
    } else {
      std::cerr << "unknown option '" << key << "': expected --events, --profile-events, --threads, --seed or --out\n";
      return 2;
    }
  }
  const std::string data = METNET_SHARED_DATA_DIR;
  try {
    open_output(options.out + "/feature_stats.csv");  // fail before minutes of simulation, not after
  } catch (const metnet::IoError& error) {
    std::cerr << error.what() << '\n';
    return 1;
  }

  metnet::SimulationConfig config;
  const EventTable ttbar = metnet::simulate(metnet::Process::ttbar, options.events, config, options.seed, options.threads);
  compare_features(ttbar, data, options.out);
  const EventTable zmumu = metnet::simulate(metnet::Process::zmumu, options.events, config, options.seed + 4, options.threads);

  metnet::SimulationConfig profile = config;
  profile.pileup.profile = metnet::MuProfile::uniform;
  profile.pileup.low = 10.0;
  profile.pileup.high = 60.0;
  const EventTable ttbar_u = metnet::simulate(metnet::Process::ttbar, options.profile_events, profile, options.seed + 1, options.threads);
  const EventTable zmumu_u = metnet::simulate(metnet::Process::zmumu, options.profile_events, profile, options.seed + 2, options.threads);
  const EventTable ww_u = metnet::simulate(metnet::Process::ww, options.profile_events / 2, profile, options.seed + 3, options.threads);

  const std::string atlas = data + "/atlas/";
  const std::string& out = options.out;
  ComparisonTally tally;
  std::vector<ProfileTable> by_mu;
  by_mu.push_back(compare_profile(profile_sample(zmumu_u, "ActMu", true), "ActMu", atlas + "zmumu_rmse_vs_actmu.csv",
                                  "Z -> mu mu (mu uniform 10-60)", out + "/zmumu_rmse_vs_actmu.csv", tally));
  by_mu.push_back(compare_profile(profile_sample(ttbar_u, "ActMu", false), "ActMu", atlas + "ttbar_rmse_vs_actmu.csv",
                                  "ttbar (mu uniform 10-60)", out + "/ttbar_rmse_vs_actmu.csv", tally));
  compare_ww(profile_sample(ww_u, "ActMu", false), out + "/ww_rmse_vs_actmu.csv", tally);
  // Above 210 GeV of true ET the unfiltered sample has a few hundred events
  // per bin, so those bins come from events with a hard-process invisible pT
  // of at least 150 GeV. Only events whose b-decay neutrinos add more than
  // 60 GeV could reach 210 GeV from below the filter, which is negligible.
  metnet::SimulationConfig high_met = config;
  high_met.filter.min_true_met = 150.0;
  const EventTable ttbar_high_met =
      metnet::simulate(metnet::Process::ttbar, options.events, high_met, options.seed + 5, options.threads);
  compare_profile(join_at(profile_sample(ttbar, "True_ET", false), profile_sample(ttbar_high_met, "True_ET", false),
                          210.0),
                  "True_ET", atlas + "ttbar_rmse_vs_true_et.csv", "ttbar (Run-2 mu; above 210 GeV true-MET filtered)",
                  out + "/ttbar_rmse_vs_true_et.csv", tally);
  compare_profile(profile_sample(zmumu, "True_ET", true), "True_ET", atlas + "zmumu_rmse_vs_true_et.csv",
                  "Z -> mu mu (Run-2 mu)", out + "/zmumu_rmse_vs_true_et.csv", tally);
  compare_profile(profile_sample(ttbar, "Tight_Final_SumET", false), "Tight_Final_SumET",
                  atlas + "ttbar_rmse_vs_tight_final_sumet.csv", "ttbar (Run-2 mu)",
                  out + "/ttbar_rmse_vs_tight_final_sumet.csv", tally);
  compare_profile(profile_sample(zmumu, "Tight_Final_SumET", true), "Tight_Final_SumET",
                  atlas + "zmumu_rmse_vs_tight_final_sumet.csv", "Z -> mu mu (Run-2 mu)",
                  out + "/zmumu_rmse_vs_tight_final_sumet.csv", tally);
  compare_met_spectra(ttbar, atlas + "ttbar_nonallhad_true_and_tight_met_hist.csv", out + "/ttbar_met_spectra.csv");
  summarise_failing_bins(tally, out + "/failing_bins.csv");
  compare_ordering(by_mu, out + "/working_point_ordering.csv");
  return 0;
}
