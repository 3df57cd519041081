// SPDX-License-Identifier: MIT
#pragma once
// Input checks and weighted sums shared by the evaluation metrics.

#include <cmath>
#include <string>

#include "metnet/core/error.hpp"
#include "metnet/core/types.hpp"

namespace metnet::detail {

// Returns the weights to use: `weights` itself, or ones when it is empty.
// Throws ShapeError on a length mismatch, NumericError on a negative or
// non-finite weight.
inline Vector<double> checked_weights(const Vector<double>& weights, Index events, const std::string& where) {
  if (weights.size() == 0) {
    return Vector<double>::Ones(events);
  }
  if (weights.size() != events) {
    throw ShapeError(where + ": " + std::to_string(weights.size()) + " weights for " + std::to_string(events) +
                     " events; give one weight per event or none");
  }
  for (Index i = 0; i < events; ++i) {
    if (!std::isfinite(weights(i)) || weights(i) < 0.0) {
      throw NumericError(where + ": weight of event " + std::to_string(i) + " is " + std::to_string(weights(i)) +
                         ", expected a finite value >= 0 (negative generator weights are not supported)");
    }
  }
  return weights;
}

// Throws ShapeError unless `values` has `events` entries.
inline void check_length(const Vector<double>& values, Index events, const std::string& where, const char* what) {
  if (values.size() != events) {
    throw ShapeError(where + ": " + what + " has " + std::to_string(values.size()) + " values, expected " +
                     std::to_string(events) + " (one per event)");
  }
}

// Throws NumericError naming the first NaN or infinite entry.
inline void check_finite(const Vector<double>& values, const std::string& where, const char* what) {
  for (Index i = 0; i < values.size(); ++i) {
    if (!std::isfinite(values(i))) {
      throw NumericError(where + ": " + what + " of event " + std::to_string(i) + " is " + std::to_string(values(i)) +
                         ", expected a finite value");
    }
  }
}

// A column of an event table as double.
template <class Table>
Vector<double> column_as_double(const Table& events, const std::string& name) {
  return events.column(name).template cast<double>();
}

}  // namespace metnet::detail
