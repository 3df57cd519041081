// SPDX-License-Identifier: MIT
#include <catch2/catch.hpp>

#include <cmath>
#include <vector>

#include "metnet/evaluation/significance.hpp"
#include "metric_fixtures.hpp"

using Catch::Matchers::WithinAbs;
using Catch::Matchers::WithinRel;
using metnet::ScoreSample;
using metnet::Vector;

namespace {

Vector<double> values(std::initializer_list<double> list) {
  Vector<double> v(static_cast<metnet::Index>(list.size()));
  metnet::Index i = 0;
  for (const double x : list) {
    v(i++) = x;
  }
  return v;
}

ScoreSample fixture_sample(const char* scores, const char* weights) {
  const auto& f = metnet::test::metric_fixtures()["significance"];
  return {metnet::test::vector_of(f[scores]), metnet::test::vector_of(f[weights])};
}

}  // namespace

TEST_CASE("roc_auc counts ties as one half", "[evaluation][significance]") {
  // One tied pair: AUC 0.5.
  CHECK(metnet::roc_auc({values({1.0}), {}}, {values({1.0}), {}}) == 0.5);
  // Pairs (2,1) (2,0) (1,0) won, (1,1) tied: 3.5 / 4.
  CHECK(metnet::roc_auc({values({2.0, 1.0}), {}}, {values({1.0, 0.0}), {}}) == 0.875);
  // Perfect separation and its reverse.
  CHECK(metnet::roc_auc({values({5.0, 6.0}), {}}, {values({1.0, 2.0}), {}}) == 1.0);
  CHECK(metnet::roc_auc({values({1.0, 2.0}), {}}, {values({5.0, 6.0}), {}}) == 0.0);
}

TEST_CASE("roc_auc with weights matches pairwise NumPy", "[evaluation][significance]") {
  const auto& f = metnet::test::metric_fixtures()["significance"];
  const double auc = metnet::roc_auc(fixture_sample("signal", "ws"), fixture_sample("background", "wb"));
  CHECK_THAT(auc, WithinRel(f["auc"].get<double>(), 1e-12));
}

TEST_CASE("roc_curve trapezoid area equals the AUC", "[evaluation][significance]") {
  const auto& f = metnet::test::metric_fixtures()["significance"];
  const auto roc = metnet::roc_curve(fixture_sample("signal", "ws"), fixture_sample("background", "wb"));
  REQUIRE(roc.thresholds.size() == f["roc_points"].get<std::size_t>());
  CHECK(roc.signal_efficiency.front() == 0.0);
  CHECK(roc.background_efficiency.back() == 1.0);
  double area = 0.0;
  for (std::size_t k = 1; k < roc.thresholds.size(); ++k) {
    CHECK(roc.thresholds[k] < roc.thresholds[k - 1]);
    area += 0.5 * (roc.signal_efficiency[k] + roc.signal_efficiency[k - 1]) *
            (roc.background_efficiency[k] - roc.background_efficiency[k - 1]);
  }
  CHECK_THAT(area, WithinRel(f["auc"].get<double>(), 1e-12));
  // np.interp on the same ROC points.
  CHECK_THAT(metnet::signal_efficiency_at(roc, 0.1), WithinRel(f["signal_efficiency_at_0.1"].get<double>(), 1e-12));
}

TEST_CASE("signal_efficiency_at takes the best of tied points", "[evaluation][significance]") {
  metnet::RocCurve roc;
  roc.background_efficiency = {0.0, 0.0, 0.5, 1.0};
  roc.signal_efficiency = {0.0, 0.4, 0.8, 1.0};
  roc.thresholds = {INFINITY, 3.0, 2.0, 1.0};
  CHECK(metnet::signal_efficiency_at(roc, 0.0) == 0.4);
  CHECK_THAT(metnet::signal_efficiency_at(roc, 0.25), WithinRel(0.6, 1e-15));
  CHECK(metnet::signal_efficiency_at(roc, 1.0) == 1.0);
  CHECK_THROWS_AS(metnet::signal_efficiency_at(roc, 1.5), metnet::ConfigError);
}

TEST_CASE("cut_scan matches NumPy efficiencies", "[evaluation][significance]") {
  const auto& f = metnet::test::metric_fixtures()["significance"];
  const auto scan = metnet::cut_scan(fixture_sample("signal", "ws"), fixture_sample("background", "wb"),
                                     metnet::test::doubles(f["cuts"]), f["signal_total"].get<double>(),
                                     f["background_total"].get<double>());
  const std::vector<double> eff_s = metnet::test::doubles(f["signal_efficiency"]);
  const std::vector<double> eff_b = metnet::test::doubles(f["background_efficiency"]);
  const std::vector<double> significance = metnet::test::doubles(f["significance"]);
  for (std::size_t k = 0; k < eff_s.size(); ++k) {
    INFO("cut " << scan.cuts[k]);
    CHECK_THAT(scan.signal_efficiency[k], WithinAbs(eff_s[k], 1e-13));
    CHECK_THAT(scan.background_efficiency[k], WithinAbs(eff_b[k], 1e-13));
    if (std::isnan(significance[k])) {
      CHECK(std::isnan(scan.significance[k]));  // no background left
    } else {
      CHECK_THAT(scan.significance[k], WithinRel(significance[k], 1e-12));
    }
  }
}

TEST_CASE("cut_scan by hand with an empty background", "[evaluation][significance]") {
  // Cut 2: signal 2 of 3 pass, background 1 of 2. S = 9, B = 4: s = 6, b = 2, s / sqrt(b) = 6 / sqrt(2).
  const auto scan = metnet::cut_scan({values({1.0, 2.0, 3.0}), {}}, {values({0.0, 2.0}), {}}, {2.0, 2.5}, 9.0, 4.0);
  CHECK_THAT(scan.signal_efficiency[0], WithinRel(2.0 / 3.0, 1e-15));
  CHECK(scan.background_efficiency[0] == 0.5);
  CHECK_THAT(scan.significance[0], WithinRel(6.0 / std::sqrt(2.0), 1e-15));
  CHECK(std::isnan(scan.significance[1]));
  CHECK_THROWS_AS(metnet::cut_scan({Vector<double>(), {}}, {values({1.0}), {}}, {0.0}, 1.0, 1.0), metnet::ConfigError);
}
