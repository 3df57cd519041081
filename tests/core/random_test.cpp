// SPDX-License-Identifier: MIT
#include <cmath>

#include <catch2/catch.hpp>

#include "metnet/core/random.hpp"

using Catch::Matchers::WithinAbs;

TEST_CASE("Rng is reproducible from seed and stream", "[core][random]") {
  metnet::Rng a(42, 7);
  metnet::Rng b(42, 7);
  metnet::Rng c(42, 8);
  bool streams_differ = false;
  for (int i = 0; i < 100; ++i) {
    const auto x = a();
    REQUIRE(x == b());
    streams_differ = streams_differ || x != c();
  }
  CHECK(streams_differ);
}

TEST_CASE("Rng normal deviates have unit moments", "[core][random]") {
  metnet::Rng rng(1);
  constexpr int n = 200000;
  double sum = 0.0;
  double sum_sq = 0.0;
  for (int i = 0; i < n; ++i) {
    const double x = rng.normal();
    sum += x;
    sum_sq += x * x;
  }
  const double mean = sum / n;
  const double variance = sum_sq / n - mean * mean;
  // Standard errors: 1/sqrt(n) = 0.0022 on the mean, sqrt(2/n) = 0.0032 on
  // the variance; 5 sigma tolerances.
  CHECK_THAT(mean, WithinAbs(0.0, 0.011));
  CHECK_THAT(variance, WithinAbs(1.0, 0.016));
}

TEST_CASE("Rng uniform stays in the unit interval", "[core][random]") {
  metnet::Rng rng(3);
  double low = 1.0;
  double high = 0.0;
  for (int i = 0; i < 100000; ++i) {
    const double u = rng.uniform();
    low = std::min(low, u);
    high = std::max(high, u);
  }
  CHECK(low >= 0.0);
  CHECK(high < 1.0);
  CHECK(low < 1e-3);
  CHECK(high > 1.0 - 1e-3);
}
