// SPDX-License-Identifier: MIT
// Compares the parametric simulation with ATLAS MC16 figures.
//
// Simulates ttbar with the Run-2 mu profile and compares the mean and
// standard deviation of every feature, in the frame rotated so that Tight
// MET points along +x, with the ATLAS ttbar feature statistics. Then
// simulates ttbar, Z -> mu mu (exactly two reconstructed muons) and WW with
// mu uniform in [10, 60] and compares the per-axis RMS of (MET - true) of
// every working point in bins of mu, true ET and Tight sum ET.
//
// Usage: simulation_calibration [--events N] [--profile-events N]
//                               [--threads T] [--seed S] [--out DIR]
// Writes feature_stats.csv and rmse_*.csv to DIR (default: current
// directory) and prints the tables. Exit status 0 whatever the agreement.

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
  std::ofstream csv(out_dir + "/feature_stats.csv");
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

// Per-axis RMS of (MET - true) per working point in bins of `variable`,
// with bin centres read from an ATLAS profile file (uniform widths).
void compare_profile(const EventTable& table, const std::string& variable, const std::string& atlas_file,
                     const std::string& label, const std::string& out_path, bool two_muons) {
  const CsvTable atlas = read_csv(atlas_file);
  std::vector<double> centres;
  for (const auto& row : atlas.rows) {
    centres.push_back(std::stod(row[0]));
  }
  const double width = centres.size() > 1 ? centres[1] - centres[0] : 1.0;

  std::vector<double> x(static_cast<std::size_t>(table.rows()));
  for (metnet::Index i = 0; i < table.rows(); ++i) {
    x[static_cast<std::size_t>(i)] = variable == "True_ET"
                                         ? std::hypot(table.column("True_EX")(i), table.column("True_EY")(i))
                                         : table.column(variable)(i);
  }
  const auto n_muons = table.column("N_Muons");
  const auto tx = table.column("True_EX");
  const auto ty = table.column("True_EY");

  std::ofstream csv(out_path);
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
    const double low = centres[b] - 0.5 * width;
    const double high = centres[b] + 0.5 * width;
    csv << centres[b];
    std::vector<std::string> cells;
    std::size_t count = 0;
    std::vector<double> sums(profile_wps.size(), 0.0);
    for (metnet::Index i = 0; i < table.rows(); ++i) {
      const double v = x[static_cast<std::size_t>(i)];
      if (v < low || v >= high || (two_muons && n_muons(i) != 2.0F)) {
        continue;
      }
      ++count;
      for (std::size_t w = 0; w < profile_wps.size(); ++w) {
        const std::string& wp = profile_wps[w].second;
        const double dx = table.column(wp + "_Final_EX")(i) - tx(i);
        const double dy = table.column(wp + "_Final_EY")(i) - ty(i);
        sums[w] += 0.5 * (dx * dx + dy * dy);
      }
    }
    csv << ',' << count;
    std::printf("%8.2f %7zu", centres[b], count);
    for (std::size_t w = 0; w < profile_wps.size(); ++w) {
      const auto col = std::find(atlas.header.begin(), atlas.header.end(), profile_wps[w].first) - atlas.header.begin();
      const double a = std::stod(atlas.rows[b][static_cast<std::size_t>(col)]);
      const double s = count > 0 ? std::sqrt(sums[w] / static_cast<double>(count)) : 0.0;
      csv << ',' << s << ',' << a;
      std::printf(" %6.2f/%6.2f%s", s, a, std::abs(s - a) <= 0.15 * a ? " " : "*");
    }
    csv << '\n';
    std::printf("\n");
  }
}

// WW has no ATLAS profile file; physics reference values at three mu points
// (ATLAS MC16, METNet evaluation outputs).
void print_ww(const EventTable& table) {
  const std::vector<std::pair<double, std::vector<double>>> atlas = {
      {11.6, {19.65, 19.58, 19.85, 19.56, 19.84, 33.99}},
      {36.6, {22.11, 23.25, 22.02, 21.81, 25.15, 34.56}},
      {58.4, {25.57, 29.35, 24.79, 24.54, 30.84, 34.86}}};
  std::printf("\nWW: per-axis RMS(MET - true) in GeV by mu (bin +- 1.56), simulation / ATLAS\n");
  const auto mu = table.column("ActMu");
  for (const auto& [centre, values] : atlas) {
    std::vector<double> sums(profile_wps.size(), 0.0);
    std::size_t count = 0;
    for (metnet::Index i = 0; i < table.rows(); ++i) {
      if (std::abs(mu(i) - centre) > 1.5625) {
        continue;
      }
      ++count;
      for (std::size_t w = 0; w < profile_wps.size(); ++w) {
        const std::string& wp = profile_wps[w].second;
        const double dx = table.column(wp + "_Final_EX")(i) - table.column("True_EX")(i);
        const double dy = table.column(wp + "_Final_EY")(i) - table.column("True_EY")(i);
        sums[w] += 0.5 * (dx * dx + dy * dy);
      }
    }
    std::printf("%8.2f %7zu", centre, count);
    for (std::size_t w = 0; w < profile_wps.size(); ++w) {
      const double s = std::sqrt(sums[w] / static_cast<double>(std::max<std::size_t>(count, 1)));
      std::printf(" %6.2f/%6.2f%s", s, values[w], std::abs(s - values[w]) <= 0.15 * values[w] ? " " : "*");
    }
    std::printf("\n");
  }
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

  metnet::SimulationConfig config;
  const EventTable ttbar = metnet::simulate(metnet::Process::ttbar, options.events, config, options.seed, options.threads);
  compare_features(ttbar, data, options.out);

  metnet::SimulationConfig profile = config;
  profile.pileup.profile = metnet::MuProfile::uniform;
  profile.pileup.low = 10.0;
  profile.pileup.high = 60.0;
  const EventTable ttbar_u = metnet::simulate(metnet::Process::ttbar, options.profile_events, profile, options.seed + 1, options.threads);
  const EventTable zmumu_u = metnet::simulate(metnet::Process::zmumu, options.profile_events, profile, options.seed + 2, options.threads);
  const EventTable ww_u = metnet::simulate(metnet::Process::ww, options.profile_events / 2, profile, options.seed + 3, options.threads);

  compare_profile(zmumu_u, "ActMu", data + "/atlas/zmumu_rmse_vs_actmu.csv", "Z -> mu mu",
                  options.out + "/rmse_zmumu_vs_actmu.csv", true);
  compare_profile(ttbar_u, "ActMu", data + "/atlas/ttbar_rmse_vs_actmu.csv", "ttbar",
                  options.out + "/rmse_ttbar_vs_actmu.csv", false);
  print_ww(ww_u);
  compare_profile(ttbar, "True_ET", data + "/atlas/ttbar_rmse_vs_true_et.csv", "ttbar (Run-2 mu)",
                  options.out + "/rmse_ttbar_vs_true_et.csv", false);
  compare_profile(ttbar, "Tight_Final_SumET", data + "/atlas/ttbar_rmse_vs_tight_final_sumet.csv",
                  "ttbar (Run-2 mu)", options.out + "/rmse_ttbar_vs_tight_sumet.csv", false);
  compare_profile(zmumu_u, "Tight_Final_SumET", data + "/atlas/zmumu_rmse_vs_tight_final_sumet.csv",
                  "Z -> mu mu (mu uniform 10-60)", options.out + "/rmse_zmumu_vs_tight_sumet.csv", true);
  return 0;
}
