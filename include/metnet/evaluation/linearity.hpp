// SPDX-License-Identifier: MIT
#pragma once
// Linearity: the mean relative deviation of the MET magnitude from the
// true MET, (|MET| - true MET) / true MET, in bins of true MET.
//
// With events i in a bin, weights w_i and r_i the relative deviation,
//   mean  = sum_i w_i r_i / sum_i w_i
//   se    = sqrt(sum_i w_i^2 (r_i - mean)^2) / sum_i w_i
// (for unit weights the population standard deviation over sqrt(n)). A bin
// with one event has a NaN error, an empty bin a NaN mean. Events with zero
// true MET have no relative deviation; they are left out and counted.
// Left out: the magnitude-of-the-mean variant <|MET|> / <true> - 1.

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "metnet/core/types.hpp"
#include "metnet/data/event_table.hpp"
#include "metnet/evaluation/binning.hpp"
#include "metnet/evaluation/detail/samples.hpp"
#include "metnet/evaluation/resolution.hpp"

namespace metnet {

struct BinnedLinearity {
  std::vector<double> mean;   // dimensionless; NaN in an empty bin
  std::vector<double> error;  // NaN in an empty bin or a bin of one event
  std::vector<Index> events;
  std::vector<double> sum_weights;
  Index zero_true_met = 0;  // events skipped because the true MET is 0
  Index dropped = 0;        // events outside the edges, left out
};

// Linearity of `met` (magnitudes, GeV) against `true_met` in bins of the
// true MET. `weights` may be empty. Throws ShapeError and NumericError on
// bad inputs.
inline BinnedLinearity binned_linearity(const Vector<double>& true_met, const Vector<double>& met,
                                        const Vector<double>& weights, const Binning& binning,
                                        OutOfRange out_of_range = OutOfRange::drop) {
  const std::string where = "binned_linearity";
  const Index n = true_met.size();
  detail::check_length(met, n, where, "met");
  detail::check_finite(true_met, where, "true MET");
  detail::check_finite(met, where, "MET");
  const Vector<double> w = detail::checked_weights(weights, n, where);

  const auto bins = static_cast<std::size_t>(binning.bins());
  const double nan = std::numeric_limits<double>::quiet_NaN();
  BinnedLinearity result;
  result.mean.assign(bins, nan);
  result.error.assign(bins, nan);
  result.events.assign(bins, 0);
  result.sum_weights.assign(bins, 0.0);

  std::vector<int> bin_of(static_cast<std::size_t>(n), -1);
  std::vector<double> sum_wr(bins, 0.0);
  for (Index i = 0; i < n; ++i) {
    if (true_met(i) == 0.0) {
      ++result.zero_true_met;
      continue;
    }
    const int bin = binning.place(true_met(i), out_of_range);
    if (bin < 0) {
      ++result.dropped;
      continue;
    }
    bin_of[static_cast<std::size_t>(i)] = bin;
    const auto b = static_cast<std::size_t>(bin);
    result.events[b] += 1;
    result.sum_weights[b] += w(i);
    sum_wr[b] += w(i) * (met(i) - true_met(i)) / true_met(i);
  }
  for (std::size_t b = 0; b < bins; ++b) {
    if (result.sum_weights[b] > 0.0) {
      result.mean[b] = sum_wr[b] / result.sum_weights[b];
    }
  }

  std::vector<double> spread(bins, 0.0);
  for (Index i = 0; i < n; ++i) {
    const int bin = bin_of[static_cast<std::size_t>(i)];
    if (bin < 0) {
      continue;
    }
    const auto b = static_cast<std::size_t>(bin);
    const double r = (met(i) - true_met(i)) / true_met(i) - result.mean[b];
    spread[b] += w(i) * w(i) * r * r;
  }
  for (std::size_t b = 0; b < bins; ++b) {
    if (result.events[b] > 1 && result.sum_weights[b] > 0.0) {
      result.error[b] = std::sqrt(spread[b]) / result.sum_weights[b];
    }
  }
  return result;
}

// Linearity of several estimators in bins of the true MET.
struct LinearityProfile {
  Binning binning;
  std::vector<std::string> names;
  std::vector<BinnedLinearity> estimators;
};

// The MET magnitude of each estimator is hypot(x, y) of its columns; the
// true MET is hypot(truth_x, truth_y). Throws FormatError on a missing column.
inline LinearityProfile linearity_profile(const EventTable& events, const Binning& binning,
                                          const std::vector<Estimator>& estimators,
                                          const ResolutionOptions& options = {}) {
  const Vector<double> truth_x = detail::column_as_double(events, options.truth_x);
  const Vector<double> truth_y = detail::column_as_double(events, options.truth_y);
  const Vector<double> true_met = truth_x.binaryExpr(truth_y, [](double x, double y) { return std::hypot(x, y); });
  const Vector<double> weights =
      options.weight_column.empty() ? Vector<double>() : detail::column_as_double(events, options.weight_column);

  LinearityProfile profile{binning, {}, {}};
  for (const Estimator& estimator : estimators) {
    const Vector<double> x = detail::column_as_double(events, estimator.x_column);
    const Vector<double> y = detail::column_as_double(events, estimator.y_column);
    const Vector<double> met = x.binaryExpr(y, [](double a, double b) { return std::hypot(a, b); });
    profile.names.push_back(estimator.name);
    profile.estimators.push_back(binned_linearity(true_met, met, weights, binning, options.out_of_range));
  }
  return profile;
}

}  // namespace metnet
