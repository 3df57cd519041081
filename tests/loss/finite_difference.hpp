// SPDX-License-Identifier: MIT
#pragma once
// Central finite differences of a loss with respect to its output, for the
// gradient checks of tests/loss (double precision only).

#include <algorithm>
#include <cmath>
#include <limits>

#include "metnet/core/types.hpp"

namespace metnet::test {

// dL/d output by central differences, with the step h = cbrt(machine
// epsilon) * max(1, |output_ic|), which balances truncation (h^2) and
// rounding (eps / h) errors at about 4e-11 relative.
template <class LossType>
Matrix<double> numerical_gradient(const LossType& loss, const Matrix<double>& output, const Matrix<double>& target,
                                  const Vector<double>& weights) {
  const double base_step = std::cbrt(std::numeric_limits<double>::epsilon());
  Matrix<double> gradient(output.rows(), output.cols());
  Matrix<double> shifted = output;
  for (Index i = 0; i < output.rows(); ++i) {
    for (Index c = 0; c < output.cols(); ++c) {
      const double h = base_step * std::max(1.0, std::abs(output(i, c)));
      shifted(i, c) = output(i, c) + h;
      const double up = loss.template value<double>(shifted, target, weights);
      shifted(i, c) = output(i, c) - h;
      const double down = loss.template value<double>(shifted, target, weights);
      shifted(i, c) = output(i, c);
      gradient(i, c) = (up - down) / (2.0 * h);
    }
  }
  return gradient;
}

// ||analytic - numerical|| / max(||analytic||, ||numerical||, tiny).
inline double relative_error(const Matrix<double>& analytic, const Matrix<double>& numerical) {
  const double scale = std::max({analytic.norm(), numerical.norm(), 1e-300});
  return (analytic - numerical).norm() / scale;
}

}  // namespace metnet::test
