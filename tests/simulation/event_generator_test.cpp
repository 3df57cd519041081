// SPDX-License-Identifier: MIT
#include <cmath>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "metnet/simulation.hpp"

using Catch::Matchers::WithinAbs;
using Catch::Matchers::WithinRel;
using metnet::Process;
using metnet::WorkingPoint;

namespace {

// Float32 columns hold sums of up to ~1000 GeV: compare at 1e-5 relative of
// the sum ET, a few float ulps.
double float_tolerance(double sum_et) { return 1e-5 * std::max(sum_et, 1.0); }

}  // namespace

TEST_CASE("simulate is deterministic from the seed", "[simulation]") {
  const metnet::SimulationConfig config;
  const auto a = metnet::simulate(Process::ttbar, 500, config, 7, 1);
  const auto b = metnet::simulate(Process::ttbar, 500, config, 7, 1);
  const auto c = metnet::simulate(Process::ttbar, 500, config, 8, 1);
  CHECK(a.values() == b.values());
  CHECK(a.values() != c.values());
}

TEST_CASE("simulate is independent of the thread count", "[simulation]") {
  const metnet::SimulationConfig config;
  const auto one = metnet::simulate(Process::ww, 1001, config, 3, 1);
  const auto three = metnet::simulate(Process::ww, 1001, config, 3, 3);
  CHECK(one.values() == three.values());
}

TEST_CASE("simulate_events reports progress per chunk", "[simulation]") {
  const metnet::EventGenerator generator(Process::zmumu, metnet::SimulationConfig{}, 11);
  std::vector<std::size_t> reports;
  const metnet::EventTable table =
      metnet::simulate_events(generator, {}, 20000, 2, [&](std::size_t done) { reports.push_back(done); });
  CHECK(reports == std::vector<std::size_t>{8192, 16384, 20000});
  CHECK(table.values() == metnet::simulate(Process::zmumu, 20000, metnet::SimulationConfig{}, 11, 1).values());

  const std::vector<std::uint64_t> too_few{0, 1, 2};
  CHECK_THROWS_WITH(metnet::simulate_events(generator, too_few, 5, 1), Catch::Contains("only 3 event indices"));
}

TEST_CASE("table has the ATLAS feature columns", "[simulation]") {
  const auto table = metnet::simulate(Process::zmumu, 3, metnet::SimulationConfig{}, 1);
  std::ifstream in(std::string(METNET_SHARED_DATA_DIR) + "/atlas/ttbar_feature_stats.csv");
  REQUIRE(in.good());
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line)) {
    const std::string name = line.substr(0, line.find(','));
    if (name.rfind("target_rotated", 0) == 0) {
      continue;  // the targets are True_EX/True_EY before rotation
    }
    INFO(name);
    CHECK(table.has_column(name));
  }
  for (const char* extra : {"Tight_Final_EX", "Tight_Final_EY", "Tight_Phi", "Tenacious_Final_ET",
                            "Tenacious_Final_EX", "Tenacious_Final_EY", "Tenacious_Final_SumET", "Tenacious_Sig",
                            "True_EX", "True_EY", "True_ET", "Weight", "ProcessID", "AvgMu"}) {
    INFO(extra);
    CHECK(table.has_column(extra));
  }
}

TEST_CASE("final MET is the sum of its terms", "[simulation][physics]") {
  const metnet::EventGenerator generator(Process::ttbar, metnet::SimulationConfig{}, 5);
  int events_with_photons = 0;
  for (std::uint64_t i = 0; i < 3000; ++i) {
    const metnet::SimulatedEvent event = generator.generate(i);
    events_with_photons += event.n_photons > 0 ? 1 : 0;
    for (std::size_t w = 0; w < metnet::working_point_count; ++w) {
      const auto wp = static_cast<WorkingPoint>(w);
      const auto& met = event.at(wp);
      metnet::MetTerm sum = met.ref_jet;
      sum += event.muons;
      sum += event.electrons;
      if (wp != WorkingPoint::track) {
        sum += event.photons;  // Track has no photon term
      }
      sum += met.soft;
      INFO("event " << i << ", " << metnet::working_point_name(wp));
      REQUIRE_THAT(met.final_met.ex, WithinAbs(sum.ex, 1e-9));
      REQUIRE_THAT(met.final_met.ey, WithinAbs(sum.ey, 1e-9));
      REQUIRE_THAT(met.final_met.sumet, WithinAbs(sum.sumet, 1e-9));
    }
  }
  // The Track check above only bites on events with a photon.
  CHECK(events_with_photons > 10);
}

TEST_CASE("table finals match the term columns", "[simulation][physics]") {
  const auto t = metnet::simulate(Process::ttbar, 2000, metnet::SimulationConfig{}, 9);
  for (metnet::Index i = 0; i < t.rows(); ++i) {
    for (const char* axis : {"_EX", "_EY", "_SumET"}) {
      const std::string a(axis);
      const double hard = t.column("Tight_Muons" + a)(i) + t.column("Tight_RefEle" + a)(i) +
                          t.column("Tight_RefGamma" + a)(i);
      const double loose = t.column("Loose_RefJet" + a)(i) + hard + t.column("Loose_PVSoftTrk" + a)(i);
      const double calo = t.column("Tight_RefJet" + a)(i) + hard + t.column("Calo_SoftClus" + a)(i);
      const double scale = t.column("Calo_Final_SumET")(i);
      REQUIRE_THAT(t.column("Loose_Final" + a)(i), WithinAbs(loose, float_tolerance(scale)));
      REQUIRE_THAT(t.column("Calo_Final" + a)(i), WithinAbs(calo, float_tolerance(scale)));
    }
  }
}

TEST_CASE("true MET of Z to mu mu is small and of ttbar positive", "[simulation][physics]") {
  const metnet::SimulationConfig config;
  // Z -> mu mu neutrinos come only from heavy-flavour ISR jets: ATLAS has
  // 8.6 % of events above 1 GeV (Z -> mu mu MC16 true-ET histogram).
  const auto z = metnet::simulate(Process::zmumu, 20000, config, 2);
  const auto z_true = z.column("True_ET");
  const double above_1_gev = (z_true.array() > 1.0F).cast<double>().mean();
  CHECK_THAT(above_1_gev, WithinAbs(0.086, 0.02));
  CHECK(z_true.mean() < 1.0F);

  // Without heavy-flavour ISR, Z -> mu mu has no neutrino (no taus, no b quarks).
  metnet::SimulationConfig light_isr = config;
  light_isr.zmumu.isr_heavy_flavour_fraction = 0.0;
  const auto z_light = metnet::simulate(Process::zmumu, 2000, light_isr, 2);
  CHECK(z_light.column("True_ET").maxCoeff() == 0.0F);

  // Non-all-hadronic ttbar always has a neutrino from a leptonic W.
  const auto tt = metnet::simulate(Process::ttbar, 2000, config, 2);
  CHECK(tt.column("True_ET").minCoeff() > 0.0F);
  const auto stop = metnet::simulate(Process::stop_pair, 500, config, 2);
  // Two 100 GeV neutralinos from 1200 GeV stops: true ET is hundreds of GeV.
  CHECK(stop.column("True_ET").mean() > 300.0F);
}

TEST_CASE("counts agree with their terms", "[simulation][physics]") {
  const metnet::EventGenerator generator(Process::ttbar, metnet::SimulationConfig{}, 21);
  for (std::uint64_t i = 0; i < 2000; ++i) {
    const auto event = generator.generate(i);
    INFO("event " << i);
    REQUIRE((event.n_muons == 0) == (event.muons.sumet == 0.0));
    REQUIRE((event.n_electrons == 0) == (event.electrons.sumet == 0.0));
    REQUIRE((event.n_photons == 0) == (event.photons.sumet == 0.0));
    REQUIRE(event.n_forward_jets <= event.at(WorkingPoint::loose).hard_jets);
    REQUIRE(event.at(WorkingPoint::tight).hard_jets <= event.at(WorkingPoint::loose).hard_jets);
    REQUIRE(event.at(WorkingPoint::tight).hard_jets == event.at(WorkingPoint::calo).hard_jets);
    REQUIRE(event.vertices_4_tracks <= event.vertices_2_tracks);
    REQUIRE(event.vertices_4_tracks >= 1);
  }
}

TEST_CASE("Tight_Phi is the azimuth of Tight_Final", "[simulation][physics]") {
  const auto t = metnet::simulate(Process::ww, 2000, metnet::SimulationConfig{}, 4);
  for (metnet::Index i = 0; i < t.rows(); ++i) {
    const double expected = std::atan2(t.column("Tight_Final_EY")(i), t.column("Tight_Final_EX")(i));
    // float32 storage of the angle and of the components: 1e-5 rad.
    REQUIRE_THAT(t.column("Tight_Phi")(i), WithinAbs(expected, 1e-5));
  }
  metnet::SimulatedEvent empty;
  CHECK(empty.tight_phi() == 0.0);
}

TEST_CASE("process codes round trip", "[simulation]") {
  for (const Process p : metnet::all_processes) {
    CHECK(metnet::parse_process(metnet::process_name(p)) == p);
    CHECK(metnet::process_from_code(static_cast<int>(p)) == p);
  }
  CHECK_THROWS_AS(metnet::parse_process("higgs"), metnet::ConfigError);
  CHECK_THROWS_AS(metnet::process_from_code(17), metnet::ConfigError);
  const auto t = metnet::simulate(Process::wlnu, 10, metnet::SimulationConfig{}, 1);
  CHECK(t.column("ProcessID").minCoeff() == 4.0F);
  CHECK(t.column("Weight").minCoeff() == 1.0F);
}

TEST_CASE("invalid configuration is rejected", "[simulation]") {
  metnet::SimulationConfig config;
  config.pileup.low = 50.0;
  config.pileup.high = 10.0;
  CHECK_THROWS_AS(metnet::EventGenerator(Process::ttbar, config, 1), metnet::ConfigError);
  metnet::SimulationConfig heavy_share;
  heavy_share.zmumu.isr_heavy_flavour_fraction = 1.5;
  CHECK_THROWS_AS(metnet::EventGenerator(Process::zmumu, heavy_share, 1), metnet::ConfigError);
  metnet::SimulationConfig neutrino_share;
  neutrino_share.jets.b_neutrino_share_min = 0.6;
  neutrino_share.jets.b_neutrino_share_max = 0.5;
  CHECK_THROWS_AS(metnet::EventGenerator(Process::ttbar, neutrino_share, 1), metnet::ConfigError);
  metnet::SimulationConfig light_stop;
  light_stop.stop.stop_mass = 200.0;
  CHECK_THROWS_AS(metnet::EventGenerator(Process::stop_pair, light_stop, 1), metnet::ConfigError);
}

TEST_CASE("ISR count is negative binomial with a shape", "[simulation][physics]") {
  metnet::ProcessTuning tuning;
  tuning.isr_mean_count = 3.6;
  tuning.isr_count_shape = 1.5;
  metnet::JetConfig jets;
  jets.isr_eta_sigma = 0.1;  // keeps every parton inside |eta| < 4.9, so none is dropped
  metnet::Rng rng(31);
  double sum = 0.0;
  double sum_sq = 0.0;
  const int n = 100000;
  for (int i = 0; i < n; ++i) {
    metnet::detail::TruthEvent event;
    double px = 0.0;
    double py = 0.0;
    metnet::detail::generate_isr(rng, tuning, jets, event, px, py);
    const auto count = static_cast<double>(event.partons.size());
    sum += count;
    sum_sq += count * count;
  }
  const double mean = sum / n;
  // Negative binomial: mean 3.6, variance 3.6 + 3.6^2 / 1.5 = 12.24; a
  // Poisson count would have variance 3.6. Standard errors are below 1 %.
  CHECK_THAT(mean, WithinRel(3.6, 0.03));
  CHECK_THAT(sum_sq / n - mean * mean, WithinRel(12.24, 0.05));
}

TEST_CASE("CST noise correlation keeps resolutions", "[simulation][physics]") {
  metnet::SimulationConfig correlated;
  correlated.pileup.profile = metnet::MuProfile::fixed;
  correlated.pileup.mean = 36.6;
  metnet::SimulationConfig independent = correlated;
  independent.soft.cluster_track_noise_correlation = 0.0;
  const auto a = metnet::simulate(Process::ttbar, 20000, correlated, 41, 2);
  const auto b = metnet::simulate(Process::ttbar, 20000, independent, 41, 2);

  const auto rms = [](const metnet::EventTable& t, const std::string& wp) {
    double sum = 0.0;
    for (metnet::Index i = 0; i < t.rows(); ++i) {
      const double dx = t.column(wp + "_Final_EX")(i) - t.column("True_EX")(i);
      const double dy = t.column(wp + "_Final_EY")(i) - t.column("True_EY")(i);
      sum += 0.5 * (dx * dx + dy * dy);
    }
    return std::sqrt(sum / static_cast<double>(t.rows()));
  };
  // Same events but for the CST noise: the Calo resolution moves by well under 1 %.
  CHECK_THAT(rms(a, "Calo"), WithinRel(rms(b, "Calo"), 0.01));
  CHECK(rms(a, "Tight") == rms(b, "Tight"));

  // Calo_Final_EY in the Tight frame: ATLAS ttbar width 17.9 GeV (feature
  // statistics of the published network); independent noise gives about 21.8.
  const auto perpendicular_width = [](const metnet::EventTable& t) {
    double sum_sq = 0.0;
    for (metnet::Index i = 0; i < t.rows(); ++i) {
      const double phi = t.column("Tight_Phi")(i);
      const double y = -t.column("Calo_Final_EX")(i) * std::sin(phi) + t.column("Calo_Final_EY")(i) * std::cos(phi);
      sum_sq += y * y;
    }
    return std::sqrt(sum_sq / static_cast<double>(t.rows()));
  };
  CHECK(perpendicular_width(a) < perpendicular_width(b));
}

TEST_CASE("hard ISR is more central", "[simulation][physics]") {
  metnet::JetConfig jets;
  jets.isr_eta_sigma = 1.0;  // far inside |eta| < 4.9, so the cut drops no parton
  jets.isr_eta_narrowing_pt = 100.0;
  CHECK_THAT(metnet::detail::isr_eta_width(jets, 0.0), WithinRel(1.0, 1e-12));
  CHECK_THAT(metnet::detail::isr_eta_width(jets, 100.0), WithinRel(1.0 / std::sqrt(2.0), 1e-12));
  CHECK_THAT(metnet::detail::isr_eta_width(jets, 300.0), WithinRel(1.0 / std::sqrt(10.0), 1e-12));

  // Drawn partons: the eta RMS of soft (8-12 GeV) and hard (above 250 GeV)
  // partons follows the width at their pT, about 0.995 and below 0.37.
  metnet::ProcessTuning tuning;
  tuning.isr_mean_count = 4.0;
  tuning.isr_alpha = 1.0;  // a hard spectrum, so enough partons lie above 250 GeV
  metnet::Rng rng(5);
  double soft_sum_sq = 0.0;
  double hard_sum_sq = 0.0;
  int soft = 0;
  int hard = 0;
  for (int i = 0; i < 50000; ++i) {
    metnet::detail::TruthEvent event;
    double px = 0.0;
    double py = 0.0;
    metnet::detail::generate_isr(rng, tuning, jets, event, px, py);
    for (const auto& parton : event.partons) {
      const double pt = parton.p.pt();
      const double eta = parton.p.eta();
      if (pt < 12.0) {
        soft_sum_sq += eta * eta;
        ++soft;
      } else if (pt > 250.0) {
        hard_sum_sq += eta * eta;
        ++hard;
      }
    }
  }
  REQUIRE(hard > 2000);
  CHECK_THAT(std::sqrt(soft_sum_sq / soft), WithinRel(0.995, 0.03));
  CHECK(std::sqrt(hard_sum_sq / hard) < 0.37);

  metnet::SimulationConfig invalid;
  invalid.jets.isr_eta_narrowing_pt = 0.0;
  CHECK_THROWS_AS(metnet::EventGenerator(Process::ttbar, invalid, 1), metnet::ConfigError);
}

TEST_CASE("track core loss grows with jet pT", "[simulation][physics]") {
  const metnet::JetConfig jets;  // loss of 0.09 r^2 / (1 + r^2), r = pT / 150 GeV
  CHECK_THAT(metnet::detail::track_core_efficiency(jets, 50.0), WithinRel(0.991, 1e-12));
  CHECK_THAT(metnet::detail::track_core_efficiency(jets, 150.0), WithinRel(0.955, 1e-12));
  CHECK_THAT(metnet::detail::track_core_efficiency(jets, 300.0), WithinRel(0.928, 1e-12));
  CHECK(metnet::detail::track_core_efficiency(jets, 5000.0) > 0.91);

  metnet::SimulationConfig too_large;
  too_large.jets.track_core_loss_max = 1.5;
  CHECK_THROWS_AS(metnet::EventGenerator(Process::ttbar, too_large, 1), metnet::ConfigError);
  metnet::SimulationConfig zero_scale;
  zero_scale.jets.track_core_loss_pt = 0.0;
  CHECK_THROWS_AS(metnet::EventGenerator(Process::ttbar, zero_scale, 1), metnet::ConfigError);
}

TEST_CASE("hard-scatter fJVT efficiency falls with pile-up", "[simulation][physics]") {
  const metnet::JetConfig jets;  // fail probability 0.00275 per pile-up interaction
  CHECK(metnet::detail::fjvt_pass_hard_scatter(jets, 0) == 1.0);
  CHECK_THAT(metnet::detail::fjvt_pass_hard_scatter(jets, 12), WithinRel(std::pow(1.0 - 0.00275, 12), 1e-12));
  CHECK_THAT(metnet::detail::fjvt_pass_hard_scatter(jets, 38), WithinRel(0.9007, 1e-3));
  CHECK_THAT(metnet::detail::fjvt_pass_hard_scatter(jets, 58), WithinRel(0.8524, 1e-3));

  // The drawn fJVT values pass the cut at that rate.
  const double pass = metnet::detail::fjvt_pass_hard_scatter(jets, 58);
  metnet::Rng rng(5, 0);
  const int n = 200000;
  int passed = 0;
  for (int i = 0; i < n; ++i) {
    metnet::detail::RecoJet jet;
    jet.pt = 40.0;
    jet.eta = 3.0;
    metnet::detail::draw_jet_tags(jets, jet, pass, rng);
    passed += jet.fjvt <= jets.fjvt_cut ? 1 : 0;
  }
  // Binomial standard error of the share is 0.0008.
  CHECK_THAT(static_cast<double>(passed) / n, WithinAbs(pass, 0.004));

  metnet::SimulationConfig invalid;
  invalid.jets.fjvt_hard_scatter_fail_per_interaction = -0.1;
  CHECK_THROWS_AS(metnet::EventGenerator(Process::ttbar, invalid, 1), metnet::ConfigError);
}

TEST_CASE("soft recoil follows its sum ET law", "[simulation][physics]") {
  metnet::ProcessTuning tuning;
  tuning.isr_mean_count = 0.0;  // no ISR: the draws are the soft sum ET and the recoil
  tuning.soft_sum_et_mean = 100.0;
  tuning.soft_sum_et_shape = 2.0;
  tuning.soft_recoil_sigma = 8.0;
  tuning.soft_recoil_exponent = 0.75;
  const metnet::JetConfig jets;
  metnet::Rng rng(67);
  double sum = 0.0;
  double sum_sq = 0.0;
  double pull_sq = 0.0;
  const int n = 100000;
  for (int i = 0; i < n; ++i) {
    metnet::detail::TruthEvent event;
    double px = 0.0;
    double py = 0.0;
    metnet::detail::generate_isr(rng, tuning, jets, event, px, py);
    sum += event.soft_sum_et;
    sum_sq += event.soft_sum_et * event.soft_sum_et;
    const double width = 8.0 * std::pow(event.soft_sum_et / 100.0, 0.75);
    pull_sq += 0.5 * (event.recoil_x * event.recoil_x + event.recoil_y * event.recoil_y) / (width * width);
  }
  // Gamma(2) with mean 100: variance 100^2 / 2 = 5000. The recoil divided
  // by its width is a standard normal on each axis.
  const double mean = sum / n;
  CHECK_THAT(mean, WithinRel(100.0, 0.02));
  CHECK_THAT(sum_sq / n - mean * mean, WithinRel(5000.0, 0.05));
  CHECK_THAT(pull_sq / n, WithinRel(1.0, 0.02));

  metnet::SimulationConfig invalid;
  invalid.zmumu.soft_sum_et_shape = 0.0;
  CHECK_THROWS_AS(metnet::EventGenerator(Process::zmumu, invalid, 1), metnet::ConfigError);
  metnet::SimulationConfig negative;
  negative.ttbar.soft_recoil_exponent = -0.5;
  CHECK_THROWS_AS(metnet::EventGenerator(Process::ttbar, negative, 1), metnet::ConfigError);
}
