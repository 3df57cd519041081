// SPDX-License-Identifier: MIT
#pragma once
// The Huber loss of the METNet regression, with per-event weights.
//
// Leaves out: other robust losses (SmoothL1, log-cosh); SmoothL1 is Huber
// divided by delta (below). Reference: P. J. Huber, "Robust estimation of a
// location parameter", Ann. Math. Statist. 35 (1964) 73; it matches
// torch.nn.functional.huber_loss(output, target, delta=delta) of PyTorch 1.13.
//
// Definition, for the error e = output - target of one component:
//   huber(e) = e^2 / 2                    if |e| <= delta
//            = delta * (|e| - delta / 2)  otherwise
// Both branches give delta^2 / 2 at |e| = delta, so huber is C^1.
//
// Event loss and batch loss, for n events and k target columns:
//   l_i = (1/k) sum_c huber(output_ic - target_ic)
//   L   = (1/n) sum_i w_i l_i   (Reduction::mean, the default)
//   L   = sum_i w_i l_i         (Reduction::sum)
// with w_i = 1 when the weights are empty. This is the METNet training loss
// mean_batch(w_i * mean_{x,y} HuberLoss(reduction='none')).
//
// Gradient:
//   d huber / d e = e                   if |e| <= delta
//                 = delta * sign(e)     otherwise
//   dL / d output_ic = s_i / k * d huber(e_ic) / d e,  s_i = w_i / n (mean) or w_i (sum)
//
// Conventions: Huber equals PyTorch's SmoothL1Loss(beta) only at
// delta = beta = 1, since SmoothL1 = huber / beta. The default delta is 1.5
// as published for METNet; NOTE: the original METNet training code used
// PyTorch's default delta = 1.0, so set delta = 1.0 to reproduce it.
//
// Parameters: delta in the units of the targets (standardised targets, so
// in units of the target standard deviation), default 1.5, must be > 0.

#include <cmath>
#include <stdexcept>
#include <string>
#include <string_view>

#include "metnet/core/error.hpp"
#include "metnet/core/types.hpp"
#include "metnet/loss/detail/check_inputs.hpp"
#include "metnet/loss/loss_concept.hpp"

namespace metnet {

// The Huber function of one error; see the opening comment.
template <class T>
T huber(T error, T delta) noexcept {
  const T magnitude = std::abs(error);
  return magnitude <= delta ? T(0.5) * error * error : delta * (magnitude - T(0.5) * delta);
}

// d huber(error) / d error.
template <class T>
T huber_derivative(T error, T delta) noexcept {
  if (std::abs(error) <= delta) {
    return error;
  }
  return error > T(0) ? delta : -delta;
}

struct Huber {
  double delta = 1.5;
  Reduction reduction = Reduction::mean;

  static constexpr Index outputs_per_target = 1;
  static constexpr bool is_probabilistic = false;
  static constexpr std::string_view name() { return "huber"; }

  // The elementwise loss huber(output_ic - target_ic), PyTorch's
  // reduction='none'; weights are not applied.
  template <class T>
  Matrix<T> elementwise(ConstMatrixRef<T> output, ConstMatrixRef<T> target) const {
    check_delta();
    detail::check_loss_inputs<T>(name(), outputs_per_target, output, target, Vector<T>());
    const T d = static_cast<T>(delta);
    return (output - target).unaryExpr([d](T e) { return huber(e, d); });
  }

  template <class T>
  T value(ConstMatrixRef<T> output, ConstMatrixRef<T> target, ConstVectorRef<T> weights) const {
    check_delta();
    detail::check_loss_inputs<T>(name(), outputs_per_target, output, target, weights);
    const T d = static_cast<T>(delta);
    const Index n = output.rows();
    const Index k = output.cols();

    Vector<T> event_loss(n);
    for (Index i = 0; i < n; ++i) {
      T sum = T(0);
      for (Index c = 0; c < k; ++c) {
        sum += huber(output(i, c) - target(i, c), d);
      }
      event_loss(i) = k > 0 ? sum / static_cast<T>(k) : T(0);
    }
    return detail::reduce_event_losses<T>(event_loss, weights, reduction);
  }

  template <class T>
  T value_and_gradient(ConstMatrixRef<T> output, ConstMatrixRef<T> target, ConstVectorRef<T> weights,
                       Matrix<T>& gradient) const {
    check_delta();
    detail::check_loss_inputs<T>(name(), outputs_per_target, output, target, weights);
    const T d = static_cast<T>(delta);
    const Index n = output.rows();
    const Index k = output.cols();

    gradient.resize(n, k);
    Vector<T> event_loss(n);
    for (Index i = 0; i < n; ++i) {
      const T scale = detail::event_gradient_scale<T>(i, n, weights, reduction) / static_cast<T>(k > 0 ? k : 1);
      T sum = T(0);
      for (Index c = 0; c < k; ++c) {
        const T e = output(i, c) - target(i, c);
        sum += huber(e, d);
        gradient(i, c) = scale * huber_derivative(e, d);
      }
      event_loss(i) = k > 0 ? sum / static_cast<T>(k) : T(0);
    }
    return detail::reduce_event_losses<T>(event_loss, weights, reduction);
  }

 private:
  void check_delta() const {
    if (!(delta > 0.0) || !std::isfinite(delta)) {
      throw ConfigError("Huber loss: expected delta > 0 (in target units), found " + std::to_string(delta) +
                        "; use the published 1.5 or PyTorch's default 1.0");
    }
  }
};

static_assert(Loss<Huber>);

}  // namespace metnet
