// SPDX-License-Identifier: MIT
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <vector>

#include "metnet/evaluation/distribution.hpp"
#include "metric_fixtures.hpp"

using Catch::Matchers::WithinAbs;
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

TEST_CASE("wasserstein_distance of shifted points by hand", "[evaluation][distribution]") {
  // {0, 1} against {1, 2}: |F_a - F_b| = 0.5 on [0, 2], area 1.
  CHECK_THAT(metnet::wasserstein_distance(values({0.0, 1.0}), {}, values({1.0, 2.0}), {}), WithinRel(1.0, 1e-15));
  // The window [0, 0.5] holds a quarter of that area.
  CHECK_THAT(metnet::wasserstein_distance(values({0.0, 1.0}), {}, values({1.0, 2.0}), {}, 0.0, 0.5),
             WithinRel(0.25, 1e-15));
  CHECK(metnet::wasserstein_distance(values({3.0}), {}, values({3.0}), {}) == 0.0);
}

TEST_CASE("wasserstein_distance with weights matches SciPy", "[evaluation][distribution]") {
  const auto& f = metnet::test::metric_fixtures()["distribution"];
  const Vector<double> a = metnet::test::vector_of(f["a"]);
  const Vector<double> b = metnet::test::vector_of(f["b"]);
  const Vector<double> wa = metnet::test::vector_of(f["wa"]);
  const Vector<double> wb = metnet::test::vector_of(f["wb"]);
  // scipy.stats.wasserstein_distance(a, b, wa, wb); sums of 450 terms.
  CHECK_THAT(metnet::wasserstein_distance(a, wa, b, wb), WithinRel(f["wasserstein_all"].get<double>(), 1e-12));
  CHECK_THAT(metnet::wasserstein_distance(a, wa, b, wb, 0.0, 100.0),
             WithinRel(f["wasserstein_0_100"].get<double>(), 1e-12));
  CHECK_THAT(metnet::wasserstein_distance(a, wa, b, wb, 100.0),
             WithinRel(f["wasserstein_100_inf"].get<double>(), 1e-12));
}

TEST_CASE("chi2_distance matches NumPy histograms", "[evaluation][distribution]") {
  const auto& f = metnet::test::metric_fixtures()["distribution"];
  const Binning binning(metnet::test::doubles(f["edges"]));
  const auto ha = metnet::histogram(metnet::test::vector_of(f["a"]), metnet::test::vector_of(f["wa"]), binning);
  const auto hb = metnet::histogram(metnet::test::vector_of(f["b"]), metnet::test::vector_of(f["wb"]), binning);
  const auto all = metnet::chi2_distance(ha, hb);
  CHECK_THAT(all.chi2, WithinRel(f["chi2_all"]["chi2"].get<double>(), 1e-12));
  CHECK(all.ndf == f["chi2_all"]["ndf"].get<int>());
  const auto low = metnet::chi2_distance(ha, hb, 0.0, 100.0);
  CHECK_THAT(low.chi2, WithinRel(f["chi2_0_100"]["chi2"].get<double>(), 1e-12));
  CHECK(low.ndf == f["chi2_0_100"]["ndf"].get<int>());
  const std::vector<double> density = metnet::test::doubles(f["density_a"]);
  for (int k = 0; k < binning.bins(); ++k) {
    CHECK_THAT(ha.density(k), WithinRel(density[static_cast<std::size_t>(k)], 1e-12));
  }
}

TEST_CASE("histogram counts under- and overflow", "[evaluation][distribution]") {
  const auto h = metnet::histogram(values({-1.0, 0.5, 1.5, 2.0, 7.0}), {}, Binning({0.0, 1.0, 2.0}));
  CHECK(h.underflow == 1.0);
  CHECK(h.overflow == 2.0);  // 2.0 sits on the last edge
  CHECK(h.total == 5.0);
  // One entry of five in a bin of width 1: density 0.2, error sqrt(1) / 5.
  CHECK_THAT(h.density(0), WithinRel(0.2, 1e-15));
  CHECK_THAT(h.density_error(0), WithinRel(0.2, 1e-15));
}

TEST_CASE("chi2_distance of equal histograms is zero", "[evaluation][distribution]") {
  const Binning binning({0.0, 1.0, 2.0, 3.0});
  const auto h = metnet::histogram(values({0.5, 1.5, 1.6}), {}, binning);
  const auto result = metnet::chi2_distance(h, h);
  CHECK(result.chi2 == 0.0);
  CHECK(result.ndf == 2);  // the empty third bin and the empty under/overflow are skipped
}

TEST_CASE("distances reject empty samples and other edges", "[evaluation][distribution]") {
  CHECK_THROWS_AS(metnet::wasserstein_distance(Vector<double>(), {}, values({1.0}), {}), metnet::ConfigError);
  const auto h1 = metnet::histogram(values({0.5}), {}, Binning({0.0, 1.0}));
  const auto h2 = metnet::histogram(values({0.5}), {}, Binning({0.0, 2.0}));
  CHECK_THROWS_AS(metnet::chi2_distance(h1, h2), metnet::ConfigError);
  const auto empty = metnet::histogram(Vector<double>(), {}, Binning({0.0, 1.0}));
  CHECK_THROWS_AS(metnet::chi2_distance(h1, empty), metnet::ConfigError);
}
