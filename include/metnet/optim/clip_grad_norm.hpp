// SPDX-License-Identifier: MIT
#pragma once
// Gradient clipping by the global L2 norm, as torch.nn.utils.clip_grad_norm_
// of PyTorch 1.13 (norm_type 2):
//   total = sqrt(sum over parameters of sum grad^2)
//   grad *= min(1, max_norm / (total + 1e-6))
// Leaves out: other norm types and clipping by value.

#include <cmath>
#include <string>

#include "metnet/autodiff/parameter.hpp"
#include "metnet/core/error.hpp"
#include "metnet/core/types.hpp"

namespace metnet {

namespace detail {

// The sum of x[i]^2 over n values, accumulated in double in eight
// interleaved partial sums that the compiler vectorises. Not finite when an
// x[i] is not finite, and for double also when a square overflows.
template <class T>
double sum_of_squares(const T* x, Index n) noexcept {
  constexpr int lanes = 8;
  double partial[lanes] = {};
  Index i = 0;
  for (; i + lanes <= n; i += lanes) {
    for (int j = 0; j < lanes; ++j) {
      const auto value = static_cast<double>(x[i + j]);
      partial[j] += value * value;
    }
  }
  double sum = 0.0;
  for (int j = 0; j < lanes; ++j) {
    sum += partial[j];
  }
  for (; i < n; ++i) {
    const auto value = static_cast<double>(x[i]);
    sum += value * value;
  }
  return sum;
}

// Throws NumericError, naming the parameter, if its gradient is not finite.
// `sum` is sum_of_squares of that gradient: the full check runs only when
// the sum is not finite.
template <class T>
void check_finite_gradient(const Parameter<T>& parameter, double sum) {
  if (!std::isfinite(sum) && !parameter.grad.allFinite()) {
    throw NumericError("gradient of parameter '" + parameter.name +
                       "': expected finite values, found NaN or infinity; lower the learning rate or "
                       "check the loss inputs");
  }
}

// The factor clip_grad_norm_ applies to the gradients (when below 1).
inline double clip_coefficient(double total_norm, double max_norm) noexcept {
  return max_norm / (total_norm + 1e-6);
}

}  // namespace detail

// Returns the global L2 norm of the gradients (accumulated in double).
// Throws NumericError, naming the parameter, if a gradient is not finite.
template <class T>
double gradient_norm(const ParameterList<T>& parameters) {
  double sum_of_squares = 0.0;
  for (const Parameter<T>* parameter : parameters) {
    const double sum = detail::sum_of_squares(parameter->grad.data(), parameter->grad.size());
    detail::check_finite_gradient(*parameter, sum);
    sum_of_squares += sum;
  }
  return std::sqrt(sum_of_squares);
}

// Scales every gradient in place so that the global L2 norm is at most
// max_norm, and returns the norm before clipping.
template <class T>
double clip_grad_norm(const ParameterList<T>& parameters, double max_norm) {
  if (!(max_norm > 0.0)) {
    throw ConfigError("clip_grad_norm: expected max_norm > 0, found " + std::to_string(max_norm));
  }
  const double total = gradient_norm(parameters);
  const double coefficient = detail::clip_coefficient(total, max_norm);
  if (coefficient < 1.0) {
    for (Parameter<T>* parameter : parameters) {
      parameter->grad *= static_cast<T>(coefficient);
    }
  }
  return total;
}

}  // namespace metnet
