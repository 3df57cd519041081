// SPDX-License-Identifier: MIT
#pragma once
// Portable random distributions built on metnet::Rng.
//
// Provides exponential, Pareto, gamma, beta, Poisson, binomial, truncated
// normal and truncated Breit-Wigner deviates. Each is a free function of an
// Rng, so the same seed gives the same numbers with any standard library
// (the std:: distributions differ between libstdc++ and libc++).
// Leaves out everything the simulation does not need (multivariate laws,
// discrete tables).
// References: Marsaglia and Tsang, ACM TOMS 26 (2000) 363 for gamma;
// Hoermann, Insurance: Math. Econ. 12 (1993) 39 (PTRS) for Poisson with a
// large mean; Knuth, TAOCP vol. 2, for Poisson with a small mean.

#include <cmath>
#include <cstdint>
#include <numbers>

#include "metnet/core/random.hpp"

namespace metnet {

// Exponential deviate with the given mean (not the rate).
inline double exponential(Rng& rng, double mean) noexcept { return -mean * std::log1p(-rng.uniform()); }

// Pareto deviate: x_min * U^(-1/alpha), so P(X > x) = (x_min / x)^alpha.
inline double pareto(Rng& rng, double x_min, double alpha) noexcept {
  return x_min * std::pow(1.0 - rng.uniform(), -1.0 / alpha);
}

// Gamma deviate with shape k and scale theta (mean k * theta). Returns 0 for
// k <= 0, which is the limit of the distribution and what a sum of zero
// exponential terms gives.
inline double gamma(Rng& rng, double shape, double scale) noexcept {
  if (shape <= 0.0) {
    return 0.0;
  }
  if (shape < 1.0) {
    // Boost a shape below 1: Gamma(k) = Gamma(k + 1) * U^(1/k).
    const double u = 1.0 - rng.uniform();
    return gamma(rng, shape + 1.0, scale) * std::pow(u, 1.0 / shape);
  }

  // Marsaglia-Tsang squeeze on d * (1 + c x)^3 with x standard normal.
  const double d = shape - 1.0 / 3.0;
  const double c = 1.0 / std::sqrt(9.0 * d);
  while (true) {
    double x = 0.0;
    double v = 0.0;
    do {
      x = rng.normal();
      v = 1.0 + c * x;
    } while (v <= 0.0);
    v = v * v * v;
    const double u = 1.0 - rng.uniform();
    if (u < 1.0 - 0.0331 * x * x * x * x) {
      return d * v * scale;
    }
    if (std::log(u) < 0.5 * x * x + d * (1.0 - v + std::log(v))) {
      return d * v * scale;
    }
  }
}

// Beta(a, b) deviate as X / (X + Y) with X ~ Gamma(a), Y ~ Gamma(b).
inline double beta(Rng& rng, double a, double b) noexcept {
  const double x = gamma(rng, a, 1.0);
  const double y = gamma(rng, b, 1.0);
  const double sum = x + y;
  return sum > 0.0 ? x / sum : 0.5;
}

// Poisson deviate with the given mean; returns 0 for mean <= 0.
inline std::int64_t poisson(Rng& rng, double mean) noexcept {
  if (mean <= 0.0) {
    return 0;
  }
  if (mean < 10.0) {
    // Knuth: count uniforms until their product falls below exp(-mean).
    const double limit = std::exp(-mean);
    std::int64_t k = 0;
    double product = rng.uniform();
    while (product > limit) {
      ++k;
      product *= rng.uniform();
    }
    return k;
  }

  // PTRS, transformed rejection with squeeze (Hoermann 1993), as in NumPy.
  const double sqrt_mean = std::sqrt(mean);
  const double log_mean = std::log(mean);
  const double b = 0.931 + 2.53 * sqrt_mean;
  const double a = -0.059 + 0.02483 * b;
  const double inv_alpha = 1.1239 + 1.1328 / (b - 3.4);
  const double v_r = 0.9277 - 3.6224 / (b - 2.0);
  while (true) {
    const double u = rng.uniform() - 0.5;
    const double v = rng.uniform();
    const double us = 0.5 - std::abs(u);
    const double k = std::floor((2.0 * a / us + b) * u + mean + 0.43);
    if (us >= 0.07 && v <= v_r) {
      return static_cast<std::int64_t>(k);
    }
    if (k < 0.0 || (us < 0.013 && v > us)) {
      continue;
    }
    if (std::log(v) + std::log(inv_alpha) - std::log(a / (us * us) + b) <=
        -mean + k * log_mean - std::lgamma(k + 1.0)) {
      return static_cast<std::int64_t>(k);
    }
  }
}

// Binomial deviate: the number of successes in n trials of probability p.
// Sums Bernoulli trials, which is exact and fast for the n of a few hundred
// that the simulation uses.
inline std::int64_t binomial(Rng& rng, std::int64_t n, double p) noexcept {
  std::int64_t successes = 0;
  for (std::int64_t i = 0; i < n; ++i) {
    successes += rng.uniform() < p ? 1 : 0;
  }
  return successes;
}

// Normal deviate truncated to [low, high] by rejection; the interval must
// hold a reasonable share of the probability (callers use it within 5 sigma).
inline double truncated_normal(Rng& rng, double mean, double sigma, double low, double high) noexcept {
  while (true) {
    const double x = rng.normal(mean, sigma);
    if (x >= low && x <= high) {
      return x;
    }
  }
}

// Relativistic-free (Cauchy) Breit-Wigner deviate with pole mass m and width
// gamma, truncated to [low, high] by inverting the cumulative distribution
// on that interval, so it never loops.
inline double breit_wigner(Rng& rng, double mass, double width, double low, double high) noexcept {
  const double half_width = 0.5 * width;
  const double cdf_low = std::atan((low - mass) / half_width);
  const double cdf_high = std::atan((high - mass) / half_width);
  const double angle = cdf_low + (cdf_high - cdf_low) * rng.uniform();
  return mass + half_width * std::tan(angle);
}

}  // namespace metnet
