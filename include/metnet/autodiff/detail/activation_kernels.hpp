// SPDX-License-Identifier: MIT
#pragma once
// Overflow-free SiLU, sigmoid and tanh on Eigen arrays, shared by the
// training graph and any other forward pass.
//
// sigmoid(x) = 1 / (1 + exp(-x)) is evaluated through e = exp(-|x|), whose
// argument is never positive, as
//   sigmoid(x) = 1 / (1 + e)   for x >= 0
//   sigmoid(x) = e / (1 + e)   for x <  0
// so exp never overflows and no inf / inf or 0 * inf appears for finite x
// (tests/autodiff/floating_point_test.cpp traps these up to |x| = 1e38).
// For x far below zero e underflows to zero (or, through Eigen's vectorised
// exp, which clamps its argument at -88.7 for float and -709.8 for double, to
// the smallest normal value), which is the correctly rounded result or within
// one denormal of it. tanh uses Eigen's tanh, which is bounded for every
// finite input. Reference: torch.sigmoid, torch.nn.functional.silu, torch.tanh.

#include "metnet/core/types.hpp"

namespace metnet::detail {

// Write sigmoid(x) into sigmoid, two arrays or blocks of the same shape;
// they may be the same array.
template <class XArray, class SArray>
void sigmoid_into(const XArray& x, SArray&& sigmoid) {
  using T = typename XArray::Scalar;
  sigmoid = (-x.abs()).exp();  // e = exp(-|x|), in (0, 1]
  sigmoid = (x >= T(0)).select(T(1) / (T(1) + sigmoid), sigmoid / (T(1) + sigmoid));
}

// Write sigmoid(x) into sigmoid; the two may be the same matrix.
template <class T>
void compute_sigmoid(const Matrix<T>& x, Matrix<T>& sigmoid) {
  sigmoid.resize(x.rows(), x.cols());
  sigmoid_into(x.array(), sigmoid.array());
}

// d silu / dx = s + x s (1 - s) = s (1 + x (1 - s)) with s = sigmoid(x).
// Every factor is finite: s is in [0, 1], and s is zero wherever x (1 - s)
// is huge, so the product is 0 rather than 0 * inf.
template <class XArray, class SArray>
auto silu_derivative(const XArray& x, const SArray& s) {
  using T = typename XArray::Scalar;
  return s * (T(1) + x * (T(1) - s));
}

}  // namespace metnet::detail
