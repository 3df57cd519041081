// SPDX-License-Identifier: MIT
#include <catch2/catch.hpp>

#include <cmath>
#include <vector>

#include "metnet/evaluation/linearity.hpp"
#include "metric_fixtures.hpp"

using Catch::Matchers::WithinRel;
using metnet::Binning;
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

TEST_CASE("binned_linearity of two events by hand", "[evaluation][linearity]") {
  // r = (12 - 10) / 10 = 0.2 and (15 - 20) / 20 = -0.25: mean -0.025,
  // se = sqrt(0.225^2 + 0.225^2) / 2 = 0.225 / sqrt(2).
  const auto result = metnet::binned_linearity(values({10.0, 20.0}), values({12.0, 15.0}), {}, Binning({0.0, 50.0}));
  CHECK_THAT(result.mean[0], WithinRel(-0.025, 1e-14));
  CHECK_THAT(result.error[0], WithinRel(0.225 / std::sqrt(2.0), 1e-14));
}

TEST_CASE("binned_linearity skips zero true MET", "[evaluation][linearity]") {
  const auto result = metnet::binned_linearity(values({0.0, 10.0}), values({5.0, 11.0}), {}, Binning({0.0, 50.0}));
  CHECK(result.zero_true_met == 1);
  CHECK(result.events[0] == 1);
  CHECK_THAT(result.mean[0], WithinRel(0.1, 1e-14));
  CHECK(std::isnan(result.error[0]));  // one event: no spread to estimate
}

TEST_CASE("binned_linearity marks empty bins with NaN", "[evaluation][linearity]") {
  const auto result = metnet::binned_linearity(values({10.0}), values({11.0}), {}, Binning({0.0, 20.0, 40.0}));
  CHECK(result.events[1] == 0);
  CHECK(std::isnan(result.mean[1]));
  CHECK(std::isnan(result.error[1]));
}

TEST_CASE("binned_linearity with weights matches NumPy", "[evaluation][linearity]") {
  const auto& f = metnet::test::metric_fixtures()["profile"];
  const auto result =
      metnet::binned_linearity(metnet::test::vector_of(f["true_met"]), metnet::test::vector_of(f["met"]),
                               metnet::test::vector_of(f["weights"]), Binning(metnet::test::doubles(f["edges"])));
  const std::vector<double> mean = metnet::test::doubles(f["linearity"]["mean"]);
  const std::vector<double> error = metnet::test::doubles(f["linearity"]["error"]);
  CHECK(result.zero_true_met == 3);
  for (std::size_t b = 0; b < mean.size(); ++b) {
    INFO("bin " << b);
    CHECK(result.events[b] == f["linearity"]["events"][b].get<metnet::Index>());
    CHECK_THAT(result.mean[b], WithinRel(mean[b], 1e-11));
    if (std::isnan(error[b])) {
      CHECK(std::isnan(result.error[b]));
    } else {
      CHECK_THAT(result.error[b], WithinRel(error[b], 1e-10));
    }
  }
}
