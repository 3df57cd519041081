// SPDX-License-Identifier: MIT
#pragma once
// Resolution profiles: the per-axis RMS of (MET_x,y - true_x,y) in bins of
// a variable (true MET, <mu>, NPV, sum ET), as in the ATLAS MET performance
// papers and the METNet evaluation.
//
// In a bin with events i = 1..n and weights w_i, the x and y deviations
// d = MET - true are pooled into 2n values, each with its event's weight:
//   m   = sum_k w_k d_k^2 / sum_k w_k                 (k over the 2n values)
//   RMS = sqrt(m)
// Its statistical uncertainty is the standard error of the weighted mean m,
// carried to the RMS by the delta method (dRMS = dm / (2 RMS)):
//   se(m)   = sqrt(sum_k w_k^2 (d_k^2 - m)^2) / sum_k w_k
//   se(RMS) = se(m) / (2 RMS)
// For unit weights this is sqrt(Var(d^2)) / (2 RMS sqrt(2n)), with the
// population variance of the 2n squared deviations.
// NOTE: the formula treats the x and y deviations of an event as
// independent; they are uncorrelated for an azimuthally symmetric response,
// but their squares need not be, so the error can be somewhat too small.
// An empty bin has RMS and error NaN and 0 events.
// Left out: bootstrap errors, fitted (Gaussian-core) widths.

#include <cmath>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "metnet/core/error.hpp"
#include "metnet/core/types.hpp"
#include "metnet/data/event_table.hpp"
#include "metnet/evaluation/binning.hpp"
#include "metnet/evaluation/detail/samples.hpp"

namespace metnet {

// A MET estimate to evaluate: its display name and its (x, y) columns.
struct Estimator {
  std::string name;
  std::string x_column;
  std::string y_column;
};

// The Final MET of every working point, with the working-point names of
// the ATLAS METNet tool (Tight first, the reference of the ratios).
inline std::vector<Estimator> working_point_estimators() {
  std::vector<Estimator> estimators;
  for (const char* name : {"Tight", "Loose", "Tghtr", "FJVT", "Calo", "Track", "Tenacious"}) {
    const std::string prefix = std::string(name) + "_Final";
    estimators.push_back({name, prefix + "_EX", prefix + "_EY"});
  }
  return estimators;
}

// Per-bin RMS of one estimator, with the bin contents it was computed from.
struct BinnedRms {
  std::vector<double> rms;        // GeV; NaN in an empty bin
  std::vector<double> rms_error;  // GeV; NaN in an empty bin
  std::vector<Index> events;      // events in the bin
  std::vector<double> sum_weights;
  Index dropped = 0;  // events outside the edges (or NaN) that were left out
};

// Per-axis RMS of the deviations (dx, dy) in bins of `variable`. `weights`
// may be empty (unit weights). Throws ShapeError on length mismatches and
// NumericError on NaN or infinite deviations or bad weights.
inline BinnedRms binned_rms(const Vector<double>& variable, const Vector<double>& dx, const Vector<double>& dy,
                            const Vector<double>& weights, const Binning& binning,
                            OutOfRange out_of_range = OutOfRange::drop) {
  const std::string where = "binned_rms";
  const Index n = variable.size();
  detail::check_length(dx, n, where, "dx");
  detail::check_length(dy, n, where, "dy");
  detail::check_finite(dx, where, "dx");
  detail::check_finite(dy, where, "dy");
  const Vector<double> w = detail::checked_weights(weights, n, where);

  const auto bins = static_cast<std::size_t>(binning.bins());
  const double nan = std::numeric_limits<double>::quiet_NaN();
  BinnedRms result;
  result.rms.assign(bins, nan);
  result.rms_error.assign(bins, nan);
  result.events.assign(bins, 0);
  result.sum_weights.assign(bins, 0.0);

  // Pass 1: bin of each event, and sum_k w_k d_k^2 per bin.
  std::vector<int> bin_of(static_cast<std::size_t>(n));
  std::vector<double> sum_wd2(bins, 0.0);
  for (Index i = 0; i < n; ++i) {
    const int bin = binning.place(variable(i), out_of_range);
    bin_of[static_cast<std::size_t>(i)] = bin;
    if (bin < 0) {
      ++result.dropped;
      continue;
    }
    const auto b = static_cast<std::size_t>(bin);
    result.events[b] += 1;
    result.sum_weights[b] += w(i);
    sum_wd2[b] += w(i) * (dx(i) * dx(i) + dy(i) * dy(i));
  }
  std::vector<double> m(bins, nan);
  for (std::size_t b = 0; b < bins; ++b) {
    if (result.events[b] > 0 && result.sum_weights[b] > 0.0) {
      m[b] = sum_wd2[b] / (2.0 * result.sum_weights[b]);
    }
  }

  // Pass 2: sum_k w_k^2 (d_k^2 - m)^2 per bin, for the standard error.
  std::vector<double> spread(bins, 0.0);
  for (Index i = 0; i < n; ++i) {
    const int bin = bin_of[static_cast<std::size_t>(i)];
    if (bin < 0) {
      continue;
    }
    const auto b = static_cast<std::size_t>(bin);
    const double ex = dx(i) * dx(i) - m[b];
    const double ey = dy(i) * dy(i) - m[b];
    spread[b] += w(i) * w(i) * (ex * ex + ey * ey);
  }
  for (std::size_t b = 0; b < bins; ++b) {
    if (std::isnan(m[b])) {
      continue;
    }
    const double rms = std::sqrt(m[b]);
    const double se_m = std::sqrt(spread[b]) / (2.0 * result.sum_weights[b]);
    result.rms[b] = rms;
    result.rms_error[b] = rms > 0.0 ? se_m / (2.0 * rms) : 0.0;
  }
  return result;
}

struct ResolutionOptions {
  std::string truth_x = "True_EX";
  std::string truth_y = "True_EY";
  std::string weight_column;  // empty: unit weights
  OutOfRange out_of_range = OutOfRange::drop;
};

// Resolution of several estimators in bins of one variable.
struct ResolutionProfile {
  std::string variable;  // column the events were binned in
  Binning binning;
  std::vector<std::string> names;  // estimator names, in the order given
  std::vector<BinnedRms> estimators;

  // Position of an estimator; throws ConfigError naming the known ones.
  std::size_t find(const std::string& name) const {
    std::string known;
    for (std::size_t k = 0; k < names.size(); ++k) {
      if (names[k] == name) {
        return k;
      }
      known += (k > 0 ? ", " : "") + names[k];
    }
    throw ConfigError("ResolutionProfile: no estimator '" + name + "' (the profile has " + known + ")");
  }

  // RMS of `name` divided by the RMS of `reference` per bin (NaN where
  // either is NaN or the reference is 0).
  std::vector<double> ratio(const std::string& name, const std::string& reference) const {
    const BinnedRms& numerator = estimators[find(name)];
    const BinnedRms& denominator = estimators[find(reference)];
    std::vector<double> values(numerator.rms.size());
    for (std::size_t b = 0; b < values.size(); ++b) {
      values[b] = denominator.rms[b] > 0.0 ? numerator.rms[b] / denominator.rms[b]
                                           : std::numeric_limits<double>::quiet_NaN();
    }
    return values;
  }
};

// Profiles the per-axis RMS of every estimator in bins of `variable_column`.
// Throws FormatError on a missing column and what binned_rms throws.
inline ResolutionProfile resolution_profile(const EventTable& events, const std::string& variable_column,
                                            const Binning& binning, const std::vector<Estimator>& estimators,
                                            const ResolutionOptions& options = {}) {
  const Vector<double> variable = detail::column_as_double(events, variable_column);
  const Vector<double> truth_x = detail::column_as_double(events, options.truth_x);
  const Vector<double> truth_y = detail::column_as_double(events, options.truth_y);
  const Vector<double> weights =
      options.weight_column.empty() ? Vector<double>() : detail::column_as_double(events, options.weight_column);

  ResolutionProfile profile{variable_column, binning, {}, {}};
  for (const Estimator& estimator : estimators) {
    const Vector<double> dx = detail::column_as_double(events, estimator.x_column) - truth_x;
    const Vector<double> dy = detail::column_as_double(events, estimator.y_column) - truth_y;
    profile.names.push_back(estimator.name);
    profile.estimators.push_back(binned_rms(variable, dx, dy, weights, binning, options.out_of_range));
  }
  return profile;
}

}  // namespace metnet
