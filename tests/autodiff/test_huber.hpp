// SPDX-License-Identifier: MIT
#pragma once
// A small Huber loss that satisfies metnet::Loss, for the tests of the loss
// node and of Mlp::forward_backward (the library's own Huber lives in loss/):
//   l(r) = r^2 / 2                  for |r| <= delta
//   l(r) = delta (|r| - delta / 2)  otherwise,  r = output - target
//   L = (1/N) sum_ij w_i l(r_ij),   N = rows * cols (PyTorch's mean reduction)
// It matches torch.nn.functional.huber_loss(output, target, delta=delta) for
// unit weights, and does not allocate once gradient has the output's shape.

#include <cmath>
#include <string_view>

#include "metnet/core/types.hpp"

namespace metnet::test {

struct TestHuber {
  static constexpr Index outputs_per_target = 1;
  static constexpr bool is_probabilistic = false;
  static constexpr std::string_view name() { return "test_huber"; }

  double delta = 1.5;

  template <class T>
  T value(ConstMatrixRef<T> output, ConstMatrixRef<T> target, ConstVectorRef<T> weights) const {
    Matrix<T> gradient;
    return value_and_gradient<T>(output, target, weights, gradient);
  }

  template <class T>
  T value_and_gradient(ConstMatrixRef<T> output, ConstMatrixRef<T> target, ConstVectorRef<T> weights,
                       Matrix<T>& gradient) const {
    const T d = static_cast<T>(delta);
    const T inv_n = T(1) / static_cast<T>(output.size());
    gradient.resize(output.rows(), output.cols());
    T total = 0;
    for (Index i = 0; i < output.rows(); ++i) {
      const T w = weights.size() > 0 ? weights(i) : T(1);
      for (Index j = 0; j < output.cols(); ++j) {
        const T r = output(i, j) - target(i, j);
        const T a = std::abs(r);
        const T l = a <= d ? T(0.5) * r * r : d * (a - T(0.5) * d);
        const T dl = a <= d ? r : std::copysign(d, r);
        total += w * l;
        gradient(i, j) = w * dl * inv_n;
      }
    }
    return total * inv_n;
  }
};

}  // namespace metnet::test
