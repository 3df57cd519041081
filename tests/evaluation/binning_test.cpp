// SPDX-License-Identifier: MIT
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>

#include "metnet/evaluation/binning.hpp"

using metnet::Binning;
using metnet::OutOfRange;

TEST_CASE("Binning finds bins with half-open edges", "[evaluation][binning]") {
  const Binning binning({0.0, 10.0, 20.0, 40.0});
  CHECK(binning.bins() == 3);
  CHECK(binning.find(0.0) == 0);
  CHECK(binning.find(9.999) == 0);
  CHECK(binning.find(10.0) == 1);
  CHECK(binning.find(39.0) == 2);
  CHECK(binning.find(-0.1) == -1);
  CHECK(binning.find(40.0) == 3);  // the last edge is overflow
  CHECK(binning.find(std::numeric_limits<double>::quiet_NaN()) == 3);
  CHECK(binning.centre(2) == 30.0);
  CHECK(binning.width(2) == 20.0);
}

TEST_CASE("Binning places out-of-range values by policy", "[evaluation][binning]") {
  const Binning binning({0.0, 10.0, 20.0});
  CHECK(binning.place(-5.0, OutOfRange::drop) == -1);
  CHECK(binning.place(25.0, OutOfRange::drop) == -1);
  CHECK(binning.place(-5.0, OutOfRange::clamp_to_edge) == 0);
  CHECK(binning.place(25.0, OutOfRange::clamp_to_edge) == 1);
  CHECK(binning.place(std::numeric_limits<double>::quiet_NaN(), OutOfRange::clamp_to_edge) == -1);
}

TEST_CASE("Binning rejects unordered or too few edges", "[evaluation][binning]") {
  CHECK_THROWS_AS(Binning({1.0}), metnet::ConfigError);
  CHECK_THROWS_AS(Binning({0.0, 1.0, 1.0}), metnet::ConfigError);
  CHECK_THROWS_AS(Binning({0.0, std::numeric_limits<double>::infinity()}), metnet::ConfigError);
  CHECK_THROWS_AS(Binning::uniform(0, 0.0, 1.0), metnet::ConfigError);
}

TEST_CASE("ATLAS mu binning matches the published bin centres", "[evaluation][binning]") {
  // Bin centres of the <mu> column of the ATLAS METNet resolution tables:
  // 11.5625, 14.6875, ..., 58.4375 (16 bins of width 3.125 from 10).
  const Binning mu = metnet::atlas_binning::mu();
  REQUIRE(mu.bins() == 16);
  CHECK(mu.centre(0) == 11.5625);
  CHECK(mu.centre(8) == 36.5625);
  CHECK(mu.centre(15) == 58.4375);
  // True MET in ttbar: centres 8.75, 26.25, ..., 341.25.
  CHECK(metnet::atlas_binning::ttbar_true_met().centre(0) == 8.75);
  CHECK(metnet::atlas_binning::ttbar_true_met().centre(19) == 341.25);
  // Tight sum ET: ttbar centres 240 to 960, Z -> mu mu 112.5 to 487.5.
  CHECK(metnet::atlas_binning::ttbar_sumet().centre(0) == 240.0);
  CHECK(metnet::atlas_binning::zmumu_sumet().centre(15) == 487.5);
  CHECK(metnet::atlas_binning::ttbar_met().centre(0) == 4.375);
}
