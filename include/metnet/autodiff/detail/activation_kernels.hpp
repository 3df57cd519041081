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

#include <cmath>

#include <Eigen/Core>

#include "metnet/core/types.hpp"

namespace metnet::detail {

// Computes sigmoid on one SIMD packet with Eigen's vectorised exp, written
// with packet operations because Eigen 3.4 does not vectorise select().
template <class Packet>
EIGEN_STRONG_INLINE Packet sigmoid_packet(const Packet& value) {
  using T = typename Eigen::internal::unpacket_traits<Packet>::type;
  const Packet one = Eigen::internal::pset1<Packet>(T(1));
  // e = exp(-|x|), in (0, 1]; the numerator is 1 for x >= 0 and e below.
  const Packet e = Eigen::internal::pexp(Eigen::internal::pnegate(Eigen::internal::pabs(value)));
  const Packet negative = Eigen::internal::pcmp_lt(value, Eigen::internal::pzero(value));
  const Packet numerator = Eigen::internal::pselect(negative, e, one);
  return Eigen::internal::pdiv(numerator, Eigen::internal::padd(one, e));
}

// Computes sigmoid of one value with std::exp.
template <class T>
T sigmoid_scalar(T value) {
  const T e = std::exp(-std::abs(value));
  return (value < T(0) ? e : T(1)) / (T(1) + e);
}

// Write sigmoid(x[i]) into sigmoid[i] for i < n; x and sigmoid may be the
// same array. Whole packets use sigmoid_packet and the values after the
// last whole packet sigmoid_scalar. So each element's result depends only on
// its position from x.
template <class T>
void sigmoid_into(const T* x, T* sigmoid, Index n) {
  using P = Eigen::internal::packet_traits<T>;
  using Packet = typename P::type;
  constexpr Index lanes = P::size;
  Index i = 0;
  if constexpr (P::Vectorizable && P::HasExp && lanes > 1) {
    for (; i + lanes <= n; i += lanes) {
      Eigen::internal::pstoreu(sigmoid + i, sigmoid_packet(Eigen::internal::ploadu<Packet>(x + i)));
    }
  }
  for (; i < n; ++i) {
    sigmoid[i] = sigmoid_scalar(x[i]);
  }
}

// Write sigmoid(x) into sigmoid; the two may be the same matrix.
template <class T>
void compute_sigmoid(const Matrix<T>& x, Matrix<T>& sigmoid) {
  sigmoid.resize(x.rows(), x.cols());
  sigmoid_into(x.data(), sigmoid.data(), x.size());
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
