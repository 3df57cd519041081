// SPDX-License-Identifier: MIT
#include <cmath>

#include <catch2/catch.hpp>

#include "metnet/core/distributions.hpp"

using Catch::Matchers::WithinAbs;
using Catch::Matchers::WithinRel;

namespace {

struct Moments {
  double mean = 0.0;
  double variance = 0.0;
};

template <class Draw>
Moments moments(Draw draw, int n) {
  double sum = 0.0;
  double sum_sq = 0.0;
  for (int i = 0; i < n; ++i) {
    const double x = draw();
    sum += x;
    sum_sq += x * x;
  }
  const double mean = sum / n;
  return {mean, sum_sq / n - mean * mean};
}

}  // namespace

// Reference values are the analytic moments of each law. With n = 200000
// draws the standard error of a mean is sigma / 447, so a 2 % relative
// tolerance is more than 4 standard errors for every case below.
TEST_CASE("poisson matches its mean and variance", "[simulation][distributions]") {
  for (const double lambda : {0.5, 3.6, 9.9, 10.0, 38.3, 80.0}) {
    metnet::Rng rng(11, static_cast<std::uint64_t>(lambda * 10));
    const Moments m = moments([&] { return static_cast<double>(metnet::poisson(rng, lambda)); }, 200000);
    INFO("lambda = " << lambda);
    CHECK_THAT(m.mean, WithinRel(lambda, 0.02));
    CHECK_THAT(m.variance, WithinRel(lambda, 0.03));
  }
}

TEST_CASE("poisson of non-positive mean is zero", "[simulation][distributions]") {
  metnet::Rng rng(1);
  CHECK(metnet::poisson(rng, 0.0) == 0);
  CHECK(metnet::poisson(rng, -2.0) == 0);
}

TEST_CASE("gamma matches shape times scale", "[simulation][distributions]") {
  for (const double shape : {0.5, 1.3, 3.0, 40.0}) {
    metnet::Rng rng(12, static_cast<std::uint64_t>(shape * 10));
    const Moments m = moments([&] { return metnet::gamma(rng, shape, 2.0); }, 200000);
    INFO("shape = " << shape);
    CHECK_THAT(m.mean, WithinRel(2.0 * shape, 0.02));
    CHECK_THAT(m.variance, WithinRel(4.0 * shape, 0.04));
  }
}

TEST_CASE("beta binomial exponential and pareto means", "[simulation][distributions]") {
  metnet::Rng rng(13);
  // Beta(1.2, 2): mean a / (a + b) = 0.375.
  CHECK_THAT(moments([&] { return metnet::beta(rng, 1.2, 2.0); }, 200000).mean, WithinRel(0.375, 0.02));
  // Binomial(40, 0.5): mean 20, variance 10.
  const Moments b = moments([&] { return static_cast<double>(metnet::binomial(rng, 40, 0.5)); }, 200000);
  CHECK_THAT(b.mean, WithinRel(20.0, 0.01));
  CHECK_THAT(b.variance, WithinRel(10.0, 0.03));
  CHECK_THAT(moments([&] { return metnet::exponential(rng, 6.0); }, 200000).mean, WithinRel(6.0, 0.02));
  // Pareto(8, 2.3): mean alpha x_min / (alpha - 1) = 14.154.
  CHECK_THAT(moments([&] { return metnet::pareto(rng, 8.0, 2.3); }, 200000).mean, WithinRel(2.3 * 8.0 / 1.3, 0.03));
}

TEST_CASE("breit wigner stays in its window", "[simulation][distributions]") {
  metnet::Rng rng(14);
  int near_pole = 0;
  for (int i = 0; i < 100000; ++i) {
    const double m = metnet::breit_wigner(rng, 91.19, 2.50, 66.0, 116.0);
    REQUIRE(m >= 66.0);
    REQUIRE(m <= 116.0);
    near_pole += std::abs(m - 91.19) < 1.25 ? 1 : 0;
  }
  // Share within one half-width: (2 atan(1)) / (atan(24.81/1.25) + atan(24.81/1.25)) = 0.5161.
  CHECK_THAT(near_pole / 100000.0, WithinAbs(0.5161, 0.01));
}
