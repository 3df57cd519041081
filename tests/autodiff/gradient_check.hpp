// SPDX-License-Identifier: MIT
#pragma once
// Central finite-difference check of the gradients a Tape<double> computes.
//
// The scalar checked is f = sum(G * root) for a fixed upstream gradient G,
// so backward(root, G) must give df/dleaf for every leaf. Each element is
// moved by h = cbrt(machine epsilon) * max(1, |value|), which balances the
// O(h^2) truncation error of the central difference against the O(eps / h)
// rounding error, so both are near 1e-10 relative for smooth operations.

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include <catch2/catch.hpp>

#include "metnet/autodiff/tape.hpp"

namespace metnet::test {

// The largest relative error |analytic - numeric| / max(|analytic|, |numeric|, 1)
// over every element of the inputs and parameters given.
inline double max_gradient_error(Tape<double>& tape, Var<double> root, const Matrix<double>& upstream,
                                 const std::vector<Var<double>>& inputs,
                                 const std::vector<Parameter<double>*>& parameters) {
  const auto objective = [&] {
    tape.forward();
    return (root.value().array() * upstream.array()).sum();
  };
  const double cbrt_eps = std::cbrt(std::numeric_limits<double>::epsilon());
  const auto relative_error = [](double analytic, double numeric) {
    return std::abs(analytic - numeric) / std::max({std::abs(analytic), std::abs(numeric), 1.0});
  };

  for (auto* parameter : parameters) {
    parameter->zero_grad();
  }
  tape.forward();
  tape.backward(root, upstream);
  std::vector<Matrix<double>> input_grads;
  for (const auto& input : inputs) {
    REQUIRE(input.has_grad());
    input_grads.push_back(input.grad());
  }
  std::vector<Matrix<double>> parameter_grads;
  for (auto* parameter : parameters) {
    parameter_grads.push_back(parameter->grad);
  }

  double worst = 0.0;
  for (std::size_t k = 0; k < inputs.size(); ++k) {
    Matrix<double> x = inputs[k].value();
    for (Index i = 0; i < x.size(); ++i) {
      const double original = x.data()[i];
      const double h = cbrt_eps * std::max(1.0, std::abs(original));
      x.data()[i] = original + h;
      tape.set_value(inputs[k], x);
      const double f_plus = objective();
      x.data()[i] = original - h;
      tape.set_value(inputs[k], x);
      const double f_minus = objective();
      x.data()[i] = original;
      tape.set_value(inputs[k], x);
      worst = std::max(worst, relative_error(input_grads[k].data()[i], (f_plus - f_minus) / (2.0 * h)));
    }
  }
  for (std::size_t k = 0; k < parameters.size(); ++k) {
    Matrix<double>& p = parameters[k]->value;
    for (Index i = 0; i < p.size(); ++i) {
      const double original = p.data()[i];
      const double h = cbrt_eps * std::max(1.0, std::abs(original));
      p.data()[i] = original + h;
      const double f_plus = objective();
      p.data()[i] = original - h;
      const double f_minus = objective();
      p.data()[i] = original;
      worst = std::max(worst, relative_error(parameter_grads[k].data()[i], (f_plus - f_minus) / (2.0 * h)));
    }
  }
  tape.forward();
  return worst;
}

}  // namespace metnet::test
