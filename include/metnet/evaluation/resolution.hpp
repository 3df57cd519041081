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
//
// Bootstrap errors (optional, BootstrapOptions::replicas > 0): in each bin
// with n events, `replicas` samples of n events are drawn with replacement
// from the bin's events (an event keeps its x and y deviations and its
// weight), the RMS above is computed for each, and the error is their
// standard deviation (denominator replicas - 1). Because whole events are
// resampled, the bootstrap also covers a correlation between the x and y
// deviations that the analytic error ignores. Bin b draws from Rng(seed, b),
// so the errors depend only on the seed, the bin and its events; every
// estimator profiled with one seed on the same events gets the same draws.
// Left out: fitted (Gaussian-core) widths.

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "metnet/core/error.hpp"
#include "metnet/core/random.hpp"
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
  int bootstrap_replicas = 0;  // 0: rms_error is the analytic (delta-method) error
};

// Bootstrap replicas for the RMS error; 0 keeps the analytic error.
struct BootstrapOptions {
  int replicas = 0;
  std::uint64_t seed = 1;
};

namespace detail {

// Throws ConfigError unless replicas is 0 (off) or at least 2.
inline void check_bootstrap(const BootstrapOptions& bootstrap) {
  if (bootstrap.replicas < 0 || bootstrap.replicas == 1) {
    throw ConfigError("bootstrap: expected 0 replicas (analytic errors) or at least 2, found " +
                      std::to_string(bootstrap.replicas) + "; 200 or more give a stable error");
  }
}

// Bootstrap standard deviation of the RMS in each bin. `bin_of` is the bin
// of each event (-1 for dropped events); `squares` holds w_i (dx_i^2 + dy_i^2).
inline std::vector<double> bootstrap_rms_error(const std::vector<int>& bin_of, const Vector<double>& squares,
                                               const Vector<double>& w, std::size_t bins,
                                               const BootstrapOptions& bootstrap) {
  // The events of each bin, contiguous, in event order.
  std::vector<std::vector<Index>> members(bins);
  for (std::size_t i = 0; i < bin_of.size(); ++i) {
    if (bin_of[i] >= 0) {
      members[static_cast<std::size_t>(bin_of[i])].push_back(static_cast<Index>(i));
    }
  }
  std::vector<double> errors(bins, std::numeric_limits<double>::quiet_NaN());
  std::vector<double> replica_rms(static_cast<std::size_t>(bootstrap.replicas));
  for (std::size_t b = 0; b < bins; ++b) {
    const std::vector<Index>& events = members[b];
    if (events.empty()) {
      continue;
    }
    Rng rng(bootstrap.seed, b);
    int valid = 0;
    double mean = 0.0;
    for (int r = 0; r < bootstrap.replicas; ++r) {
      double sum_squares = 0.0;
      double sum_weights = 0.0;
      for (std::size_t k = 0; k < events.size(); ++k) {
        const Index i = events[static_cast<std::size_t>(rng.uniform_index(events.size()))];
        sum_squares += squares(i);
        sum_weights += w(i);
      }
      // A replica that drew only zero-weight events has no RMS; it is skipped.
      if (sum_weights > 0.0) {
        replica_rms[static_cast<std::size_t>(valid)] = std::sqrt(sum_squares / (2.0 * sum_weights));
        mean += replica_rms[static_cast<std::size_t>(valid)];
        ++valid;
      }
    }
    if (valid < 2) {
      continue;
    }
    mean /= valid;
    double spread = 0.0;
    for (int r = 0; r < valid; ++r) {
      const double deviation = replica_rms[static_cast<std::size_t>(r)] - mean;
      spread += deviation * deviation;
    }
    errors[b] = std::sqrt(spread / (valid - 1));
  }
  return errors;
}

}  // namespace detail

// Per-axis RMS of the deviations (dx, dy) in bins of `variable`. `weights`
// may be empty (unit weights). With bootstrap.replicas > 0 the errors are
// bootstrap errors, otherwise analytic ones. Throws ShapeError on length
// mismatches, NumericError on NaN or infinite deviations or bad weights,
// ConfigError on a bootstrap with 1 or a negative number of replicas.
inline BinnedRms binned_rms(const Vector<double>& variable, const Vector<double>& dx, const Vector<double>& dy,
                            const Vector<double>& weights, const Binning& binning,
                            OutOfRange out_of_range = OutOfRange::drop, const BootstrapOptions& bootstrap = {}) {
  const std::string where = "binned_rms";
  detail::check_bootstrap(bootstrap);
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

  if (bootstrap.replicas > 0) {
    const Vector<double> squares = w.cwiseProduct(dx.cwiseProduct(dx) + dy.cwiseProduct(dy));
    std::vector<double> errors = detail::bootstrap_rms_error(bin_of, squares, w, bins, bootstrap);
    for (std::size_t b = 0; b < bins; ++b) {
      if (!std::isnan(m[b])) {
        result.rms_error[b] = errors[b];
      }
    }
    result.bootstrap_replicas = bootstrap.replicas;
  }
  return result;
}

struct ResolutionOptions {
  std::string truth_x = "True_EX";
  std::string truth_y = "True_EY";
  std::string weight_column;  // empty: unit weights
  OutOfRange out_of_range = OutOfRange::drop;
  BootstrapOptions bootstrap;  // replicas 0: analytic RMS errors
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
    profile.estimators.push_back(binned_rms(variable, dx, dy, weights, binning, options.out_of_range, options.bootstrap));
  }
  return profile;
}

}  // namespace metnet
