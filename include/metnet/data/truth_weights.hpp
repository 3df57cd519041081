// SPDX-License-Identifier: MIT
#pragma once
// Sample weights that flatten the training set's true-MET spectrum: the
// reciprocal of the true-MET histogram, as in Weights.py of the ATLAS METNet
// training code (master and dev branches).
//
// Recipe, for settings s:
//  1. Count the training events in s.bins equal bins over [s.low, s.high)
//     (an event at exactly s.high goes into the last bin, as numpy.histogram
//     does; events outside the range are not counted).
//  2. w_b = 1 / count_b for every non-empty bin.
//  3. With s.cap on, w_max is w of the bin that contains s.weight_to; if that
//     bin is empty, the nearest non-empty bin below it. Every bin is capped at
//     w_max and bins above s.weight_to get w_max, so the tail keeps its shape.
//  4. With s.weight_from > s.low, bins below s.weight_from take the weight of
//     the bin that contains s.weight_from (low-end flattening).
//  5. Empty bins get w_max with the cap on, otherwise the largest weight of
//     the non-empty bins, so no weight is ever infinite.
//  6. The weight of an event is interpolated linearly between bin centres;
//     below the first centre it is the first bin's weight, above the last
//     centre the last bin's. Values outside [low, high], negative ones
//     included, are clamped to the edge bins and never wrap around.
//  7. The weights are normalised to mean 1 over the training set.
// Left out: the master branch's cubic interpolation through (0, 0), the
// linear tilt weight_shift (0 in every released configuration), rejection
// sampling (weight_ratio > 0) and the 2-D target-plane flattening.

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include <Eigen/Core>

#include "metnet/core/error.hpp"
#include "metnet/core/types.hpp"

namespace metnet {

struct TruthWeightSettings {
  Index bins = 500;
  double low = 0.0;      // GeV
  double high = 450.0;   // GeV
  bool cap = true;
  double weight_to = 360.0;   // GeV; the Network A configuration's weight_to = 3.6 (x 100 GeV)
  double weight_from = 0.0;   // GeV; 0 (or any value <= low) turns low-end flattening off

  friend bool operator==(const TruthWeightSettings&, const TruthWeightSettings&) = default;

  // Throws ConfigError on an empty range, no bins or a non-finite setting.
  void validate() const {
    if (bins <= 0 || !std::isfinite(low) || !std::isfinite(high) || !(high > low)) {
      throw ConfigError("truth weights: expected bins > 0 and finite low < high, found bins=" + std::to_string(bins) +
                        " low=" + std::to_string(low) + " high=" + std::to_string(high));
    }
    if (!std::isfinite(weight_to) || !std::isfinite(weight_from)) {
      throw ConfigError("truth weights: weight_to and weight_from must be finite, found " +
                        std::to_string(weight_to) + " and " + std::to_string(weight_from));
    }
  }
};

class TruthWeights {
 public:
  // Builds the weight curve from the training set's true MET (GeV). Throws
  // NumericError naming the row of a NaN or infinite value, ShapeError on an
  // empty training set, ConfigError if no event falls inside [low, high].
  template <class Derived>
  static TruthWeights fit(const Eigen::MatrixBase<Derived>& true_met, const TruthWeightSettings& settings = {}) {
    settings.validate();
    if (true_met.size() == 0) {
      throw ShapeError("truth weights: cannot fit on 0 events; pass the training set's true MET");
    }
    TruthWeights result;
    result.settings_ = settings;
    result.counts_.assign(static_cast<std::size_t>(settings.bins), 0);
    for (Index i = 0; i < true_met.size(); ++i) {
      const double v = static_cast<double>(true_met(i));
      check_finite(v, i, "fit");
      if (v < settings.low || v > settings.high) {
        continue;
      }
      ++result.counts_[static_cast<std::size_t>(result.bin_of(v))];
    }
    result.build_bin_weights();
    double sum = 0.0;
    for (Index i = 0; i < true_met.size(); ++i) {
      sum += result.raw_weight(static_cast<double>(true_met(i)));
    }
    result.norm_ = static_cast<double>(true_met.size()) / sum;
    return result;
  }

  // Weight of one event with true MET `value` (GeV), normalised so that the
  // training set's mean is 1. Throws NumericError on NaN or infinity.
  double operator()(double value) const {
    check_finite(value, -1, "evaluate");
    return norm_ * raw_weight(value);
  }

  // Weights of many events.
  template <class Derived>
  Vector<float> evaluate(const Eigen::MatrixBase<Derived>& true_met) const {
    Vector<float> weights(true_met.size());
    for (Index i = 0; i < true_met.size(); ++i) {
      const double v = static_cast<double>(true_met(i));
      check_finite(v, i, "evaluate");
      weights(i) = static_cast<float>(norm_ * raw_weight(v));
    }
    return weights;
  }

  const TruthWeightSettings& settings() const noexcept { return settings_; }
  // Training events per bin.
  const std::vector<long long>& counts() const noexcept { return counts_; }
  // Normalised weight at each bin centre.
  std::vector<double> bin_weights() const {
    std::vector<double> result = raw_;
    for (double& w : result) {
      w *= norm_;
    }
    return result;
  }

 private:
  static void check_finite(double v, Index row, const char* operation) {
    if (!std::isfinite(v)) {
      throw NumericError(std::string("truth weights ") + operation + ": true MET" +
                         (row >= 0 ? " of row " + std::to_string(row) : std::string()) + " is " +
                         std::to_string(v) + ", expected a finite value in GeV");
    }
  }

  double width() const noexcept { return (settings_.high - settings_.low) / static_cast<double>(settings_.bins); }

  // Bin index of a value, clamped to [0, bins - 1].
  Index bin_of(double v) const noexcept {
    const double position = std::floor((v - settings_.low) / width());
    if (!(position >= 0.0)) {
      return 0;
    }
    return std::min<Index>(static_cast<Index>(std::min(position, 1e18)), settings_.bins - 1);
  }

  void build_bin_weights() {
    const auto n = static_cast<std::size_t>(settings_.bins);
    raw_.assign(n, 0.0);
    double largest = 0.0;
    for (std::size_t b = 0; b < n; ++b) {
      if (counts_[b] > 0) {
        raw_[b] = 1.0 / static_cast<double>(counts_[b]);
        largest = std::max(largest, raw_[b]);
      }
    }
    if (largest == 0.0) {
      throw ConfigError("truth weights: no training event has a true MET inside [" + std::to_string(settings_.low) +
                        ", " + std::to_string(settings_.high) + "] GeV; widen the range");
    }
    double fill = largest;
    if (settings_.cap) {
      auto cap_bin = static_cast<std::size_t>(bin_of(settings_.weight_to));
      while (cap_bin > 0 && counts_[cap_bin] == 0) {
        --cap_bin;
      }
      // NOTE: if every bin up to weight_to is empty, the cap falls back to the largest weight.
      const double w_max = counts_[cap_bin] > 0 ? raw_[cap_bin] : largest;
      const double top = settings_.low + width() * static_cast<double>(bin_of(settings_.weight_to) + 1);
      for (std::size_t b = 0; b < n; ++b) {
        const double lower_edge = settings_.low + width() * static_cast<double>(b);
        if (counts_[b] == 0 || lower_edge >= top) {
          raw_[b] = w_max;
        } else {
          raw_[b] = std::min(raw_[b], w_max);
        }
      }
      fill = w_max;
    }
    for (std::size_t b = 0; b < n; ++b) {
      if (counts_[b] == 0) {
        raw_[b] = fill;
      }
    }
    if (settings_.weight_from > settings_.low) {
      const auto from_bin = static_cast<std::size_t>(bin_of(settings_.weight_from));
      for (std::size_t b = 0; b < from_bin; ++b) {
        raw_[b] = raw_[from_bin];
      }
    }
  }

  // Unnormalised weight, linearly interpolated between bin centres.
  double raw_weight(double v) const noexcept {
    const double position = (v - settings_.low) / width() - 0.5;  // in units of bins from the first centre
    if (!(position > 0.0)) {
      return raw_.front();
    }
    const auto last = static_cast<double>(settings_.bins - 1);
    if (position >= last) {
      return raw_.back();
    }
    const auto left = static_cast<std::size_t>(position);
    const double t = position - static_cast<double>(left);
    return raw_[left] + t * (raw_[left + 1] - raw_[left]);
  }

  TruthWeightSettings settings_;
  std::vector<long long> counts_;
  std::vector<double> raw_;
  double norm_ = 1.0;
};

// Per-event training weights: the truth weights of the training set
// multiplied by the caller's per-event weights (empty for none), renormalised
// to mean 1. Throws NumericError on a non-finite or negative event weight,
// ShapeError on a length mismatch, ConfigError if the product sums to 0.
template <class Derived>
Vector<float> truth_sample_weights(const Eigen::MatrixBase<Derived>& true_met, const TruthWeightSettings& settings = {},
                                   const Vector<float>& event_weights = {}) {
  const TruthWeights curve = TruthWeights::fit(true_met, settings);
  const Vector<float> weights = curve.evaluate(true_met);
  if (event_weights.size() == 0) {
    return weights;
  }
  if (event_weights.size() != weights.size()) {
    throw ShapeError("truth weights: expected " + std::to_string(weights.size()) +
                     " per-event weights (one per event), found " + std::to_string(event_weights.size()));
  }
  Vector<double> product(weights.size());
  double sum = 0.0;
  for (Index i = 0; i < weights.size(); ++i) {
    const double w = event_weights(i);
    if (!std::isfinite(w) || w < 0.0) {
      throw NumericError("truth weights: per-event weight of row " + std::to_string(i) + " is " + std::to_string(w) +
                         ", expected a finite value >= 0");
    }
    product(i) = static_cast<double>(weights(i)) * w;
    sum += product(i);
  }
  if (!(sum > 0.0)) {
    throw ConfigError("truth weights: the per-event weights sum to 0; at least one event needs a positive weight");
  }
  const double norm = static_cast<double>(product.size()) / sum;
  return (product * norm).cast<float>();
}

}  // namespace metnet
