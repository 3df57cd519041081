// SPDX-License-Identifier: MIT
#include <catch2/catch.hpp>

#include <cmath>
#include <vector>

#include "metnet/data/event_table.hpp"
#include "metnet/evaluation/resolution.hpp"
#include "metric_fixtures.hpp"

using Catch::Matchers::WithinAbs;
using Catch::Matchers::WithinRel;
using metnet::Binning;
using metnet::OutOfRange;
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

}  // namespace

TEST_CASE("binned_rms of one event by hand", "[evaluation][resolution]") {
  // dx = 3, dy = 4: squares 9 and 16, m = 12.5, RMS = sqrt(12.5).
  // se(m) = sqrt(3.5^2 + 3.5^2) / 2 = 2.4749; se(RMS) = se(m) / (2 sqrt(12.5)) = 0.35 exactly.
  const auto result = metnet::binned_rms(values({5.0}), values({3.0}), values({4.0}), {}, Binning({0.0, 10.0}));
  CHECK_THAT(result.rms[0], WithinRel(std::sqrt(12.5), 1e-15));
  CHECK_THAT(result.rms_error[0], WithinRel(0.35, 1e-14));
  CHECK(result.events[0] == 1);
}

TEST_CASE("binned_rms marks empty bins with NaN", "[evaluation][resolution]") {
  const auto result =
      metnet::binned_rms(values({5.0, 25.0}), values({1.0, 2.0}), values({1.0, 2.0}), {}, Binning({0.0, 10.0, 20.0, 30.0}));
  CHECK(std::isnan(result.rms[1]));
  CHECK(std::isnan(result.rms_error[1]));
  CHECK(result.events[1] == 0);
  CHECK(result.sum_weights[1] == 0.0);
  CHECK_THAT(result.rms[2], WithinRel(2.0, 1e-15));
  CHECK(result.rms_error[2] == 0.0);  // equal squares: no spread
}

TEST_CASE("binned_rms drops or clamps out-of-range events", "[evaluation][resolution]") {
  const Vector<double> variable = values({-1.0, 5.0, 10.0});
  const Vector<double> d = values({2.0, 4.0, 6.0});
  const Binning binning({0.0, 10.0});
  const auto dropped = metnet::binned_rms(variable, d, d, {}, binning, OutOfRange::drop);
  CHECK(dropped.events[0] == 1);
  CHECK(dropped.dropped == 2);
  CHECK_THAT(dropped.rms[0], WithinRel(4.0, 1e-15));
  // Clamped: all three events, m = (4 + 16 + 36) / 3.
  const auto clamped = metnet::binned_rms(variable, d, d, {}, binning, OutOfRange::clamp_to_edge);
  CHECK(clamped.events[0] == 3);
  CHECK_THAT(clamped.rms[0], WithinRel(std::sqrt(56.0 / 3.0), 1e-15));
}

TEST_CASE("binned_rms with weights matches NumPy", "[evaluation][resolution]") {
  const auto& f = metnet::test::metric_fixtures()["profile"];
  const Vector<double> variable = metnet::test::vector_of(f["variable"]);
  const Vector<double> dx = metnet::test::vector_of(f["met_x"]) - metnet::test::vector_of(f["true_x"]);
  const Vector<double> dy = metnet::test::vector_of(f["met_y"]) - metnet::test::vector_of(f["true_y"]);
  const Binning binning(metnet::test::doubles(f["edges"]));
  for (const bool weighted : {true, false}) {
    const auto& expected = f[weighted ? "rms_weighted" : "rms_unweighted"];
    const Vector<double> weights = weighted ? metnet::test::vector_of(f["weights"]) : Vector<double>();
    const auto result = metnet::binned_rms(variable, dx, dy, weights, binning);
    const std::vector<double> rms = metnet::test::doubles(expected["rms"]);
    const std::vector<double> error = metnet::test::doubles(expected["rms_error"]);
    for (std::size_t b = 0; b < rms.size(); ++b) {
      INFO("weighted " << weighted << " bin " << b);
      CHECK(result.events[b] == expected["events"][b].get<metnet::Index>());
      if (std::isnan(rms[b])) {
        CHECK(std::isnan(result.rms[b]));
        continue;
      }
      // Sums of a few hundred doubles in another order: agreement to ~1e-13.
      CHECK_THAT(result.rms[b], WithinRel(rms[b], 1e-12));
      CHECK_THAT(result.rms_error[b], WithinRel(error[b], 1e-10));
    }
  }
}

TEST_CASE("resolution_profile reads columns and forms ratios", "[evaluation][resolution]") {
  // Two events in one bin. Truth (0, 0); Tight deviations (3, 4) and (0, 0):
  // m = 25 / 4, RMS 2.5. METNet deviations (1, 1) and (1, 1): RMS 1. Ratio 0.4.
  metnet::Matrix<float> data(2, 7);
  data << 0, 0, 3, 4, 1, 1, 5,  //
      0, 0, 0, 0, 1, 1, 15;
  const metnet::EventTable events({"True_EX", "True_EY", "Tight_Final_EX", "Tight_Final_EY", "METNet_EX",
                                   "METNet_EY", "ActMu"},
                                  data);
  const std::vector<metnet::Estimator> estimators{{"Tight", "Tight_Final_EX", "Tight_Final_EY"},
                                                  {"METNet", "METNet_EX", "METNet_EY"}};
  const auto profile = metnet::resolution_profile(events, "ActMu", Binning({0.0, 20.0}), estimators);
  CHECK_THAT(profile.estimators[0].rms[0], WithinRel(2.5, 1e-15));
  CHECK_THAT(profile.estimators[1].rms[0], WithinRel(1.0, 1e-15));
  CHECK_THAT(profile.ratio("METNet", "Tight")[0], WithinRel(0.4, 1e-15));
  CHECK_THROWS_AS(profile.find("Loose"), metnet::ConfigError);
  CHECK_THROWS_AS(metnet::resolution_profile(events, "AvgMu", Binning({0.0, 20.0}), estimators),
                  metnet::FormatError);
}

TEST_CASE("working_point_estimators lists every Final", "[evaluation][resolution]") {
  const auto estimators = metnet::working_point_estimators();
  REQUIRE(estimators.size() == 7);
  CHECK(estimators[0].name == "Tight");
  CHECK(estimators[0].x_column == "Tight_Final_EX");
  CHECK(estimators[2].y_column == "Tghtr_Final_EY");
  CHECK(estimators[6].name == "Tenacious");
}

TEST_CASE("binned_rms rejects bad inputs", "[evaluation][resolution]") {
  const Binning binning({0.0, 10.0});
  CHECK_THROWS_AS(metnet::binned_rms(values({1.0}), values({1.0, 2.0}), values({1.0}), {}, binning),
                  metnet::ShapeError);
  CHECK_THROWS_AS(metnet::binned_rms(values({1.0}), values({NAN}), values({1.0}), {}, binning),
                  metnet::NumericError);
  CHECK_THROWS_AS(metnet::binned_rms(values({1.0}), values({1.0}), values({1.0}), values({-1.0}), binning),
                  metnet::NumericError);
}
