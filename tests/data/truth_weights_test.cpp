// SPDX-License-Identifier: MIT
#include <cmath>
#include <limits>

#include <catch2/catch.hpp>

#include "message_has.hpp"

#include "metnet/data/truth_weights.hpp"

using metnet::test::MessageHas;
using Catch::Matchers::WithinAbs;

namespace {

metnet::Vector<double> values(std::initializer_list<double> list) {
  metnet::Vector<double> v(static_cast<metnet::Index>(list.size()));
  metnet::Index i = 0;
  for (const double x : list) {
    v(i++) = x;
  }
  return v;
}

// Edges 0, 10, 20, 30, 40 GeV without cap: the binning of case WGT-01.
metnet::TruthWeightSettings four_bins() {
  metnet::TruthWeightSettings s;
  s.bins = 4;
  s.low = 0.0;
  s.high = 40.0;
  s.cap = false;
  return s;
}

}  // namespace

// Case WGT-01, tolerance abs 1e-12. Reference:
//   /usr/bin/python3 -c "import numpy as n;m=n.array([5,15,15,25,25,25.]);e=n.array([0,10,20,30,40.]);
//     h,_=n.histogram(m,e);w=1/h[n.digitize(m,e)-1];print(h.tolist(),(w/w.mean()).tolist())"
//   -> [1, 2, 3, 0] [2.0, 1.0, 1.0, 0.666..., 0.666..., 0.666...]
// The events sit at bin centres, where metnet's linear interpolation equals
// the bin value.
TEST_CASE("truth weights flatten the true MET histogram", "[data][weights][WGT-01]") {
  const auto met = values({5, 15, 15, 25, 25, 25});
  const auto curve = metnet::TruthWeights::fit(met, four_bins());
  CHECK(curve.counts() == std::vector<long long>{1, 2, 3, 0});
  const double expected[] = {2.0, 1.0, 1.0, 2.0 / 3.0, 2.0 / 3.0, 2.0 / 3.0};
  for (int i = 0; i < 6; ++i) {
    CHECK_THAT(curve(met(i)), WithinAbs(expected[i], 1e-12));
  }
  const metnet::Vector<float> w = curve.evaluate(met);
  CHECK_THAT(w.cast<double>().mean(), WithinAbs(1.0, 1e-7));
}

// Case WGT-01: 35 GeV falls in the empty bin, 50 GeV above the range, -1 GeV
// below it. metnet's policy: an empty bin gets the largest weight of the
// non-empty bins (2.0 after normalisation); values outside the range take the
// edge bin's weight and never wrap around.
TEST_CASE("empty bins and out-of-range values give finite weights", "[data][weights][WGT-01]") {
  const auto curve = metnet::TruthWeights::fit(values({5, 15, 15, 25, 25, 25}), four_bins());
  CHECK_THAT(curve(35.0), WithinAbs(2.0, 1e-12));
  CHECK_THAT(curve(50.0), WithinAbs(2.0, 1e-12));
  CHECK_THAT(curve(-1.0), WithinAbs(2.0, 1e-12));
  CHECK_THAT(curve(1e30), WithinAbs(2.0, 1e-12));
  CHECK_THAT(curve(-1e30), WithinAbs(2.0, 1e-12));
  // Halfway between the centres of bins 0 and 1: (2.0 + 1.0) / 2.
  CHECK_THAT(curve(10.0), WithinAbs(1.5, 1e-12));
  for (const double w : curve.bin_weights()) {
    CHECK(std::isfinite(w));
  }
  CHECK_THROWS_AS(curve(std::numeric_limits<double>::quiet_NaN()), metnet::NumericError);
}

TEST_CASE("cap gives bins above weight_to the capped weight", "[data][weights]") {
  // Counts (4, 2, 1, 2); the cap bin (15 GeV) has weight 1/2, so bin 2 drops
  // from 1 to 1/2 and bin 3 gets 1/2. Raw weights per event sum to
  // 4/4 + 2/2 + 1/2 + 2/2 = 3.5 over 9 events: normalisation 9 / 3.5.
  auto settings = four_bins();
  settings.cap = true;
  settings.weight_to = 15.0;
  const auto met = values({5, 5, 5, 5, 15, 15, 25, 35, 35});
  const auto curve = metnet::TruthWeights::fit(met, settings);
  const double norm = 9.0 / 3.5;
  CHECK_THAT(curve(5.0), WithinAbs(0.25 * norm, 1e-12));
  CHECK_THAT(curve(15.0), WithinAbs(0.5 * norm, 1e-12));
  CHECK_THAT(curve(25.0), WithinAbs(0.5 * norm, 1e-12));
  CHECK_THAT(curve(35.0), WithinAbs(0.5 * norm, 1e-12));
  CHECK_THAT(curve.evaluate(met).cast<double>().mean(), WithinAbs(1.0, 1e-7));
}

TEST_CASE("low-end flattening copies the weight_from bin", "[data][weights]") {
  auto settings = four_bins();
  settings.weight_from = 15.0;
  const auto curve = metnet::TruthWeights::fit(values({5, 15, 15, 25, 25, 25}), settings);
  CHECK_THAT(curve(5.0), WithinAbs(curve(15.0), 1e-12));
  CHECK(curve(5.0) < curve(25.0) * 2.0);
}

TEST_CASE("default settings match the ATLAS configuration", "[data][weights]") {
  const metnet::TruthWeightSettings s;
  CHECK(s.bins == 500);
  CHECK(s.low == 0.0);
  CHECK(s.high == 450.0);
  CHECK(s.cap);
  CHECK(s.weight_to == 360.0);
}

TEST_CASE("event weights multiply and renormalise", "[data][weights]") {
  const auto met = values({5, 15, 15, 25, 25, 25});
  metnet::Vector<float> event(6);
  event << 1, 1, 1, 1, 1, 4;
  const metnet::Vector<float> w = metnet::truth_sample_weights(met, four_bins(), event);
  // Truth weights (2, 1, 1, 2/3, 2/3, 2/3) times event weights sum to 8.
  const double norm = 6.0 / 8.0;
  CHECK_THAT(w(0), WithinAbs(2.0 * norm, 1e-6));
  CHECK_THAT(w(5), WithinAbs(8.0 / 3.0 * norm, 1e-6));
  CHECK_THAT(w.cast<double>().mean(), WithinAbs(1.0, 1e-6));

  event(2) = std::numeric_limits<float>::infinity();
  CHECK_THROWS_MATCHES(metnet::truth_sample_weights(met, four_bins(), event), metnet::NumericError,
                       MessageHas("row 2"));
  CHECK_THROWS_AS(metnet::truth_sample_weights(met, four_bins(), metnet::Vector<float>::Ones(3)), metnet::ShapeError);
  CHECK_THROWS_AS(metnet::truth_sample_weights(met, four_bins(), metnet::Vector<float>::Zero(6)), metnet::ConfigError);
}

// Case MET-03 asks the same of training targets and sample weights.
TEST_CASE("NaN true MET fails fit naming the row", "[data][weights][MET-03]") {
  const auto met = values({5, std::numeric_limits<double>::quiet_NaN(), 15});
  CHECK_THROWS_MATCHES(metnet::TruthWeights::fit(met, four_bins()), metnet::NumericError, MessageHas("row 1"));
  CHECK_THROWS_AS(metnet::TruthWeights::fit(values({100, 200}), four_bins()), metnet::ConfigError);
  auto bad = four_bins();
  bad.high = bad.low;
  CHECK_THROWS_AS(metnet::TruthWeights::fit(values({5}), bad), metnet::ConfigError);
}
