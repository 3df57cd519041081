// SPDX-License-Identifier: MIT
#pragma once
// MET distributions and their distances to the true-MET distribution.
//
// Histogram: weighted counts in a Binning plus the under- and overflow, so
// that densities are normalised to the whole sample:
//   density_k = W_k / (W_total * width_k),  error_k = sqrt(sum w^2 in k) / (W_total * width_k)
// Distances between two samples a and b with weighted CDFs F_a and F_b:
//   wasserstein(a, b; [low, high]) = integral from low to high of |F_a(x) - F_b(x)| dx
// which for the whole line is the 1-D Wasserstein-1 distance (the
// scipy.stats.wasserstein_distance definition). On a window the CDFs stay
// those of the whole samples, so the window's parts add up to the total.
//   chi2(a, b) = sum_k (p_k - q_k)^2 / (sp_k^2 + sq_k^2),  ndf = bins used
// with p_k = W_k / W_total the bin fractions and sp_k = sqrt(sum w^2) / W_total
// their statistical errors; bins empty in both samples are skipped.
// Left out: Kolmogorov-Smirnov and unbinned likelihood tests.

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <string>
#include <vector>

#include "metnet/core/error.hpp"
#include "metnet/core/types.hpp"
#include "metnet/evaluation/binning.hpp"
#include "metnet/evaluation/detail/samples.hpp"

namespace metnet {

struct Histogram {
  Binning binning;
  std::vector<double> sum_weights;   // per bin
  std::vector<double> sum_weights2;  // per bin, for the errors
  double underflow = 0.0;            // summed weight below the first edge
  double underflow2 = 0.0;
  double overflow = 0.0;  // summed weight at or above the last edge
  double overflow2 = 0.0;
  double total = 0.0;  // summed weight of every entry
  Index entries = 0;

  // Density in bin k (per unit of the binned variable); NaN for an empty sample.
  double density(int bin) const noexcept {
    return sum_weights[static_cast<std::size_t>(bin)] / (total * binning.width(bin));
  }
  double density_error(int bin) const noexcept {
    return std::sqrt(sum_weights2[static_cast<std::size_t>(bin)]) / (total * binning.width(bin));
  }
};

// Fills a histogram. `weights` may be empty. Throws NumericError on NaN or
// infinite values and bad weights.
inline Histogram histogram(const Vector<double>& values, const Vector<double>& weights, const Binning& binning) {
  const std::string where = "histogram";
  detail::check_finite(values, where, "value");
  const Vector<double> w = detail::checked_weights(weights, values.size(), where);
  Histogram result{binning, std::vector<double>(static_cast<std::size_t>(binning.bins()), 0.0),
                   std::vector<double>(static_cast<std::size_t>(binning.bins()), 0.0)};
  for (Index i = 0; i < values.size(); ++i) {
    const int bin = binning.find(values(i));
    const double wi = w(i);
    if (bin < 0) {
      result.underflow += wi;
      result.underflow2 += wi * wi;
    } else if (bin >= binning.bins()) {
      result.overflow += wi;
      result.overflow2 += wi * wi;
    } else {
      result.sum_weights[static_cast<std::size_t>(bin)] += wi;
      result.sum_weights2[static_cast<std::size_t>(bin)] += wi * wi;
    }
    result.total += wi;
  }
  result.entries = values.size();
  return result;
}

// Integral of |F_a - F_b| over [low, high] (the whole line by default), in
// the unit of the values. Throws ConfigError if a sample is empty or has
// zero total weight, NumericError on NaN values or bad weights.
inline double wasserstein_distance(const Vector<double>& a, const Vector<double>& weights_a, const Vector<double>& b,
                                   const Vector<double>& weights_b,
                                   double low = -std::numeric_limits<double>::infinity(),
                                   double high = std::numeric_limits<double>::infinity()) {
  const std::string where = "wasserstein_distance";
  detail::check_finite(a, where, "value of sample a");
  detail::check_finite(b, where, "value of sample b");
  const Vector<double> wa = detail::checked_weights(weights_a, a.size(), where);
  const Vector<double> wb = detail::checked_weights(weights_b, b.size(), where);
  const double total_a = wa.sum();
  const double total_b = wb.sum();
  if (!(total_a > 0.0) || !(total_b > 0.0)) {
    throw ConfigError(where + ": both samples need a positive total weight, found " + std::to_string(total_a) +
                      " and " + std::to_string(total_b) + " (an empty sample has no distribution)");
  }

  // Every value is a step of one CDF: +w/W_a for a, -w/W_b for b, so the
  // running sum of the steps is F_a - F_b.
  struct Step {
    double x;
    double jump;
  };
  std::vector<Step> steps;
  steps.reserve(static_cast<std::size_t>(a.size() + b.size()));
  for (Index i = 0; i < a.size(); ++i) {
    steps.push_back({a(i), wa(i) / total_a});
  }
  for (Index i = 0; i < b.size(); ++i) {
    steps.push_back({b(i), -wb(i) / total_b});
  }
  std::sort(steps.begin(), steps.end(), [](const Step& l, const Step& r) { return l.x < r.x; });

  double difference = 0.0;  // F_a - F_b just right of steps[k].x
  double distance = 0.0;
  for (std::size_t k = 0; k + 1 < steps.size(); ++k) {
    difference += steps[k].jump;
    const double from = std::max(steps[k].x, low);
    const double to = std::min(steps[k + 1].x, high);
    if (to > from) {
      distance += std::abs(difference) * (to - from);
    }
  }
  return distance;
}

struct Chi2Result {
  double chi2 = 0.0;
  int ndf = 0;  // bins that entered the sum
};

// Chi2 between the bin fractions of two histograms with the same edges,
// over the bins inside [low, high]; the underflow (overflow) counts as one
// more bin when low (high) lies beyond the first (last) edge. Throws
// ConfigError on different edges or an empty histogram.
inline Chi2Result chi2_distance(const Histogram& a, const Histogram& b,
                                double low = -std::numeric_limits<double>::infinity(),
                                double high = std::numeric_limits<double>::infinity()) {
  if (a.binning.edges() != b.binning.edges()) {
    throw ConfigError("chi2_distance: the histograms have different bin edges; fill both with one Binning");
  }
  if (!(a.total > 0.0) || !(b.total > 0.0)) {
    throw ConfigError("chi2_distance: both histograms need a positive total weight, found " +
                      std::to_string(a.total) + " and " + std::to_string(b.total));
  }
  Chi2Result result;
  const auto add = [&](double wa, double wa2, double wb, double wb2) {
    const double p = wa / a.total;
    const double q = wb / b.total;
    const double variance = wa2 / (a.total * a.total) + wb2 / (b.total * b.total);
    if (variance > 0.0) {
      result.chi2 += (p - q) * (p - q) / variance;
      result.ndf += 1;
    }
  };
  const Binning& binning = a.binning;
  if (low < binning.edges().front()) {
    add(a.underflow, a.underflow2, b.underflow, b.underflow2);
  }
  for (int k = 0; k < binning.bins(); ++k) {
    if (binning.low(k) >= low && binning.high(k) <= high) {
      const auto s = static_cast<std::size_t>(k);
      add(a.sum_weights[s], a.sum_weights2[s], b.sum_weights[s], b.sum_weights2[s]);
    }
  }
  if (high > binning.edges().back()) {
    add(a.overflow, a.overflow2, b.overflow, b.overflow2);
  }
  return result;
}

}  // namespace metnet
