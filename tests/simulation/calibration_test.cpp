// SPDX-License-Identifier: MIT
// A small statistical check of the tuned simulation against ATLAS MC16
// figures. Tolerances are generous (the full comparison is the
// simulation_calibration program); they catch a broken recipe, not a
// few-percent drift.

#include <cmath>

#include <catch2/catch.hpp>

#include "metnet/simulation.hpp"

using Catch::Matchers::WithinRel;
using metnet::Process;

TEST_CASE("ttbar feature means near ATLAS", "[simulation][calibration]") {
  const auto t = metnet::simulate(Process::ttbar, 20000, metnet::SimulationConfig{}, 2021, 2);
  // ATLAS values: ttbar 410470 mc16e feature statistics (means in GeV or counts).
  CHECK_THAT(t.column("ActMu").mean(), WithinRel(38.255F, 0.03F));
  CHECK_THAT(t.column("NVx_2Tracks").mean(), WithinRel(20.435F, 0.10F));
  CHECK_THAT(t.column("Tight_Final_ET").mean(), WithinRel(74.243F, 0.15F));
  CHECK_THAT(t.column("Tight_Final_SumET").mean(), WithinRel(417.054F, 0.15F));
  CHECK_THAT(t.column("Track_Final_ET").mean(), WithinRel(52.987F, 0.15F));
  CHECK_THAT(t.column("N_Muons").mean(), WithinRel(0.515F, 0.15F));
  CHECK_THAT(t.column("N_Ele").mean(), WithinRel(0.373F, 0.15F));
  CHECK_THAT(t.column("N_Jets").mean(), WithinRel(4.790F, 0.15F));
  CHECK_THAT(t.column("Loose_PVSoftTrk_SumET").mean(), WithinRel(63.239F, 0.15F));
  CHECK_THAT(t.column("Calo_SoftClus_SumET").mean(), WithinRel(319.636F, 0.15F));
}

TEST_CASE("Z to mu mu resolution near ATLAS at mu 36.6", "[simulation][calibration]") {
  metnet::SimulationConfig config;
  config.pileup.profile = metnet::MuProfile::fixed;
  config.pileup.mean = 36.6;
  const auto z = metnet::simulate(Process::zmumu, 20000, config, 37, 2);
  double tight = 0.0;
  double loose = 0.0;
  double track = 0.0;
  int selected = 0;
  for (metnet::Index i = 0; i < z.rows(); ++i) {
    if (z.column("N_Muons")(i) != 2.0F) {
      continue;  // the ATLAS profile selects exactly two muons
    }
    ++selected;
    const auto sq = [&](const char* wp) {
      const std::string w(wp);
      const double dx = z.column(w + "_Final_EX")(i);
      const double dy = z.column(w + "_Final_EY")(i);
      return 0.5 * (dx * dx + dy * dy);  // true MET is 0 in Z -> mu mu
    };
    tight += sq("Tight");
    loose += sq("Loose");
    track += sq("Track");
  }
  REQUIRE(selected > 10000);
  // ATLAS Z -> mu mu per-axis RMS at <mu> = 36.6: Tight 15.42, Loose 17.53, Track 16.43 GeV.
  CHECK_THAT(std::sqrt(tight / selected), WithinRel(15.42, 0.15));
  CHECK_THAT(std::sqrt(loose / selected), WithinRel(17.53, 0.15));
  CHECK_THAT(std::sqrt(track / selected), WithinRel(16.43, 0.15));
  CHECK(std::sqrt(loose / selected) > std::sqrt(tight / selected));
}

TEST_CASE("Z to mu mu resolution near ATLAS by sum ET", "[simulation][calibration]") {
  const auto z = metnet::simulate(Process::zmumu, 40000, metnet::SimulationConfig{}, 53, 2);
  // ATLAS Z -> mu mu per-axis RMS of Tight (MET - true) in bins of Tight sum
  // ET: 13.09 GeV at 125-150 GeV and 18.21 GeV at 175-200 GeV.
  const auto tight_rms = [&](double low, double high) {
    double sum = 0.0;
    int selected = 0;
    for (metnet::Index i = 0; i < z.rows(); ++i) {
      const double sum_et = z.column("Tight_Final_SumET")(i);
      if (z.column("N_Muons")(i) != 2.0F || sum_et < low || sum_et >= high) {
        continue;
      }
      const double dx = z.column("Tight_Final_EX")(i) - z.column("True_EX")(i);
      const double dy = z.column("Tight_Final_EY")(i) - z.column("True_EY")(i);
      sum += 0.5 * (dx * dx + dy * dy);
      ++selected;
    }
    REQUIRE(selected > 1000);
    return std::sqrt(sum / selected);
  };
  CHECK_THAT(tight_rms(125.0, 150.0), WithinRel(13.09, 0.15));
  CHECK_THAT(tight_rms(175.0, 200.0), WithinRel(18.21, 0.15));
}

TEST_CASE("ttbar Track linearity near ATLAS at high true ET", "[simulation][calibration]") {
  // Events with a hard-process invisible pT of 300-350 GeV. ATLAS ttbar
  // Track linearity, mean(Track ET / true ET) - 1, is -0.550 to -0.563 in
  // the bins from 306 to 341 GeV. Without the loss of tracks in dense jet
  // cores the simulation stays at -0.50.
  metnet::SimulationConfig config;
  config.filter.min_true_met = 300.0;
  config.filter.max_true_met = 350.0;
  const auto t = metnet::simulate(Process::ttbar, 3000, config, 59, 2);
  double sum = 0.0;
  int selected = 0;
  for (metnet::Index i = 0; i < t.rows(); ++i) {
    const double true_et = t.column("True_ET")(i);
    if (true_et < 300.0 || true_et >= 350.0) {
      continue;  // b-decay neutrinos moved the event out of the window
    }
    sum += t.column("Track_Final_ET")(i) / true_et - 1.0;
    ++selected;
  }
  REQUIRE(selected > 2500);
  CHECK_THAT(sum / selected, Catch::Matchers::WithinAbs(-0.556, 0.03));
}
