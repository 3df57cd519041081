// SPDX-License-Identifier: MIT
#pragma once
// Per-column standardisation z = (v - mean) / scale, fitted on a training set.
//
// mean and std are the population mean and standard deviation (numpy's
// mean() and std(), ddof = 0), accumulated in double with two passes.
// scale = std, except that a constant column (std == 0) gets scale = 1, so it
// maps to exactly 0 instead of NaN. The ATLAS METNet training code divides by
// std + 1e-8 instead. The equivalent lwtnn-style preprocessing
// (v + offset) * factor has offset = -mean and factor = 1 / scale.
// Non-finite values are rejected: fit and transform throw NumericError naming
// the column and the row. There is no per-feature default for missing values.

#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include <Eigen/Core>

#include "metnet/core/error.hpp"
#include "metnet/core/types.hpp"

namespace metnet {

class Standardiser {
 public:
  Standardiser() = default;

  // Rebuilds a fitted standardiser from stored statistics (a weights file).
  // Throws ShapeError on mismatched lengths, NumericError on a non-finite or
  // negative std.
  Standardiser(std::vector<std::string> names, RowVector<double> mean, RowVector<double> std)
      : names_(std::move(names)), mean_(std::move(mean)), std_(std::move(std)) {
    const auto n = static_cast<Index>(names_.size());
    if (mean_.size() != n || std_.size() != n) {
      throw ShapeError("standardiser: expected " + std::to_string(n) + " means and standard deviations (one per " +
                       "column name), found " + std::to_string(mean_.size()) + " and " + std::to_string(std_.size()));
    }
    for (Index i = 0; i < n; ++i) {
      if (!std::isfinite(mean_(i)) || !std::isfinite(std_(i)) || std_(i) < 0) {
        throw NumericError("standardiser: column '" + names_[static_cast<std::size_t>(i)] + "' has mean " +
                           std::to_string(mean_(i)) + " and std " + std::to_string(std_(i)) +
                           ", expected a finite mean and a finite std >= 0");
      }
    }
  }

  // Fits the statistics of each column of `values`; names[i] labels column i
  // in messages and files. Throws NumericError naming the column and the row
  // of the first NaN or infinite value, ShapeError on an empty matrix.
  template <class Derived>
  static Standardiser fit(const Eigen::MatrixBase<Derived>& values, std::vector<std::string> names) {
    const Index rows = values.rows();
    const Index cols = values.cols();
    if (static_cast<Index>(names.size()) != cols) {
      throw ShapeError("standardiser: " + std::to_string(names.size()) + " column names for a matrix with " +
                       std::to_string(cols) + " columns");
    }
    if (rows == 0) {
      throw ShapeError("standardiser: cannot fit on 0 events; pass a non-empty training set");
    }
    RowVector<double> mean = RowVector<double>::Zero(cols);
    RowVector<double> std = RowVector<double>::Zero(cols);
    for (Index col = 0; col < cols; ++col) {
      double sum = 0.0;
      for (Index row = 0; row < rows; ++row) {
        const double v = static_cast<double>(values(row, col));
        if (!std::isfinite(v)) {
          throw NumericError("standardiser fit: column " + std::to_string(col) + " ('" +
                             names[static_cast<std::size_t>(col)] + "'), row " + std::to_string(row) + " is " +
                             std::to_string(v) + ", expected a finite value; remove or repair the event "
                             "before fitting");
        }
        sum += v;
      }
      mean(col) = sum / static_cast<double>(rows);
      double sum_sq = 0.0;
      for (Index row = 0; row < rows; ++row) {
        const double d = static_cast<double>(values(row, col)) - mean(col);
        sum_sq += d * d;
      }
      std(col) = std::sqrt(sum_sq / static_cast<double>(rows));
    }
    return Standardiser(std::move(names), std::move(mean), std::move(std));
  }

  Index size() const noexcept { return static_cast<Index>(names_.size()); }
  const std::vector<std::string>& names() const noexcept { return names_; }
  const RowVector<double>& mean() const noexcept { return mean_; }
  // Population standard deviation as fitted (0 for a constant column).
  const RowVector<double>& std() const noexcept { return std_; }
  // The divisor used: std, or 1 where std is 0.
  double scale(Index col) const noexcept { return std_(col) > 0.0 ? std_(col) : 1.0; }

  // Standardises `values` in place (arithmetic in double, rounded to T).
  // Throws NumericError naming the column and row of a non-finite input.
  template <class T>
  void transform(Matrix<T>& values) const {
    check_columns(values.cols(), "transform");
    for (Index row = 0; row < values.rows(); ++row) {
      for (Index col = 0; col < values.cols(); ++col) {
        const double v = static_cast<double>(values(row, col));
        if (!std::isfinite(v)) {
          throw NumericError("standardiser transform: column " + std::to_string(col) + " ('" +
                             names_[static_cast<std::size_t>(col)] + "'), row " + std::to_string(row) + " is " +
                             std::to_string(v) + ", expected a finite value; the network would return NaN");
        }
        values(row, col) = static_cast<T>((v - mean_(col)) / scale(col));
      }
    }
  }

  // Undoes transform in place: v = z * scale + mean. Non-finite network
  // outputs are rejected like inputs.
  template <class T>
  void inverse_transform(Matrix<T>& values) const {
    check_columns(values.cols(), "inverse_transform");
    for (Index row = 0; row < values.rows(); ++row) {
      for (Index col = 0; col < values.cols(); ++col) {
        const double z = static_cast<double>(values(row, col));
        if (!std::isfinite(z)) {
          throw NumericError("standardiser inverse_transform: column " + std::to_string(col) + " ('" +
                             names_[static_cast<std::size_t>(col)] + "'), row " + std::to_string(row) + " is " +
                             std::to_string(z) + ", expected a finite value");
        }
        values(row, col) = static_cast<T>(z * scale(col) + mean_(col));
      }
    }
  }

  // Names equal and statistics equal under ==.
  friend bool operator==(const Standardiser& a, const Standardiser& b) {
    return a.names_ == b.names_ && a.mean_.size() == b.mean_.size() && a.std_.size() == b.std_.size() &&
           a.mean_ == b.mean_ && a.std_ == b.std_;
  }

 private:
  void check_columns(Index cols, const char* operation) const {
    if (cols != size()) {
      throw ShapeError(std::string("standardiser ") + operation + ": expected " + std::to_string(size()) +
                       " columns (fitted on " + std::to_string(size()) + "), found " + std::to_string(cols));
    }
  }

  std::vector<std::string> names_;
  RowVector<double> mean_;
  RowVector<double> std_;
};

}  // namespace metnet
