// SPDX-License-Identifier: MIT
#pragma once
// The Gaussian negative log-likelihood of the METNetSig network, which
// predicts a mean and a width for each target component, with per-event
// weights; and the conversion of its raw output to (mean, sigma).
//
// Leaves out: correlated (full-covariance) Gaussians; the components are
// independent. Reference: torch.nn.functional.gaussian_nll_loss of PyTorch
// 1.13 with var = sigma^2 (same value, same eps clamp, same full flag).
//
// Output layout: for target column c, output column 2c is the mean mu and
// column 2c + 1 the raw scale r, so (p_x, sigma_x, p_y, sigma_y).
//
// Parametrisation of sigma (a design choice; the ATLAS network does not fix
// one):
//   sigma = softplus(r) = max(r, 0) + log1p(exp(-|r|))
// Softplus is finite for every finite r, grows linearly so sigma^2 cannot
// overflow as fast as exp(2r) does (float exp(2r) overflows at r = 44), and
// its derivative sigmoid(r) lies in (0, 1), so it never blows up the
// gradient. The stable form above never evaluates exp of a positive number.
//
// Definition, per component, with the variance floor eps:
//   var = max(sigma^2, eps)          (a clamp: eps is never added)
//   nll = log(var) / 2 + (y - mu)^2 / (2 var)  [+ log(2 pi) / 2 if constant is included]
// Computed as sd = max(sigma, sqrt(eps)), z = (y - mu) / sd,
// nll = log(sd) + z^2 / 2, the same value, without forming sigma^2, so that
// it stays finite for any finite raw scale (|r| = 1e4 included).
//
// Event loss and batch loss, for n events and k target columns:
//   l_i = (1/k) sum_c nll_ic           (the mean over components, as PyTorch)
//   L   = (1/n) sum_i w_i l_i  (mean)  or  sum_i w_i l_i  (sum)
// The joint log-likelihood of an event is k * l_i; the factor k only
// rescales the learning rate.
//
// Gradient, per component:
//   d nll / d mu    = -z / sd
//   d nll / d sigma = (sigma / sd) * (1 - z^2) / sd
//   d nll / d r     = d nll / d sigma * sigmoid(r)
// The sigma derivative follows PyTorch, which clamps var without blocking
// the gradient: d nll / d var is taken at the clamped var and multiplied by
// d(sigma^2) / d sigma = 2 sigma. Below the floor this is not the derivative
// of the clamped function (which is zero) but it keeps pushing sigma up
// when the residual is large.
//
// Parameters: eps, the variance floor in squared target units (standardised
// targets), default 1e-6 as PyTorch, must be > 0; constant, whether
// log(2 pi) / 2 is added per component, default omitted (PyTorch full=False).

#include <algorithm>
#include <cmath>
#include <numbers>
#include <stdexcept>
#include <string>
#include <string_view>

#include "metnet/core/error.hpp"
#include "metnet/core/types.hpp"
#include "metnet/loss/detail/check_inputs.hpp"
#include "metnet/loss/loss_concept.hpp"

namespace metnet {

// Whether the Gaussian NLL includes the log(2 pi) / 2 normalisation constant.
enum class NllConstant { omitted, included };

// softplus(r) = log(1 + exp(r)), computed without overflow.
template <class T>
T softplus(T r) noexcept {
  return std::max(r, T(0)) + std::log1p(std::exp(-std::abs(r)));
}

// sigmoid(r) = 1 / (1 + exp(-r)), the derivative of softplus, without overflow.
template <class T>
T sigmoid(T r) noexcept {
  if (r >= T(0)) {
    return T(1) / (T(1) + std::exp(-r));
  }
  const T e = std::exp(r);
  return e / (T(1) + e);
}

// The value of the Gaussian NLL of one component and its derivatives with
// respect to mu and sigma (the PyTorch straight-through clamp for sigma).
template <class T>
struct GaussianNllTerms {
  T value;
  T d_mu;
  T d_sigma;
};

// Computes the NLL of y under N(mu, max(sigma^2, eps)) and its derivatives.
// Throws std::invalid_argument when sigma is negative or NaN, or when eps is
// not positive, as PyTorch raises ValueError for a negative variance.
template <class T>
GaussianNllTerms<T> gaussian_nll_with_gradient(T mu, T y, T sigma, T eps = T(1e-6),
                                               NllConstant constant = NllConstant::omitted) {
  if (!(sigma >= T(0))) {
    throw std::invalid_argument("gaussian_nll: expected sigma >= 0, found " + std::to_string(sigma) +
                                "; map the raw network output through softplus first");
  }
  if (!(eps > T(0))) {
    throw std::invalid_argument("gaussian_nll: expected a variance floor eps > 0, found " +
                                std::to_string(eps) + "; PyTorch's default is 1e-6");
  }

  const T sd = std::max(sigma, std::sqrt(eps));
  const T z = (y - mu) / sd;
  T value = std::log(sd) + T(0.5) * z * z;
  if (constant == NllConstant::included) {
    value += T(0.5) * std::log(T(2) * std::numbers::pi_v<T>);
  }
  const T d_mu = -z / sd;
  const T d_sigma = (sigma / sd) * (T(1) - z * z) / sd;
  return {value, d_mu, d_sigma};
}

// The NLL of y under N(mu, max(sigma^2, eps)); see gaussian_nll_with_gradient.
template <class T>
T gaussian_nll(T mu, T y, T sigma, T eps = T(1e-6), NllConstant constant = NllConstant::omitted) {
  return gaussian_nll_with_gradient(mu, y, sigma, eps, constant).value;
}

// Mean and sigma for each target column, in the units of the targets.
template <class T>
struct GaussianPrediction {
  Matrix<T> mean;   // n x k
  Matrix<T> sigma;  // n x k, max(softplus(r), sqrt(eps)): the width the loss used
};

struct GaussianNll {
  double eps = 1e-6;
  NllConstant constant = NllConstant::omitted;
  Reduction reduction = Reduction::mean;

  static constexpr Index outputs_per_target = 2;
  static constexpr bool is_probabilistic = true;
  static constexpr std::string_view name() { return "gaussian_nll"; }

  // Converts raw network output (n x 2k) into means and widths (n x k each).
  template <class T>
  GaussianPrediction<T> predict(ConstMatrixRef<T> output) const {
    check_eps();
    if (output.cols() % 2 != 0) {
      throw ShapeError("gaussian_nll predict: expected an even number of output columns (mean, scale) per target, "
                       "found " + std::to_string(output.cols()) + "; check that the network head has 2 outputs per target");
    }
    const Index n = output.rows();
    const Index k = output.cols() / 2;
    const T floor = std::sqrt(static_cast<T>(eps));
    GaussianPrediction<T> prediction{Matrix<T>(n, k), Matrix<T>(n, k)};
    for (Index i = 0; i < n; ++i) {
      for (Index c = 0; c < k; ++c) {
        prediction.mean(i, c) = output(i, 2 * c);
        prediction.sigma(i, c) = std::max(softplus(output(i, 2 * c + 1)), floor);
      }
    }
    return prediction;
  }

  template <class T>
  T value(ConstMatrixRef<T> output, ConstMatrixRef<T> target, ConstVectorRef<T> weights) const {
    return evaluate<T>(output, target, weights, nullptr);
  }

  template <class T>
  T value_and_gradient(ConstMatrixRef<T> output, ConstMatrixRef<T> target, ConstVectorRef<T> weights,
                       Matrix<T>& gradient) const {
    return evaluate<T>(output, target, weights, &gradient);
  }

 private:
  void check_eps() const {
    if (!(eps > 0.0) || !std::isfinite(eps)) {
      throw ConfigError("gaussian_nll loss: expected a variance floor eps > 0 (squared target units), found " +
                        std::to_string(eps) + "; PyTorch's default is 1e-6");
    }
  }

  template <class T>
  T evaluate(ConstMatrixRef<T> output, ConstMatrixRef<T> target, ConstVectorRef<T> weights,
             Matrix<T>* gradient) const {
    check_eps();
    detail::check_loss_inputs<T>(name(), outputs_per_target, output, target, weights);
    const Index n = target.rows();
    const Index k = target.cols();
    const T floor_eps = static_cast<T>(eps);
    if (gradient != nullptr) {
      gradient->resize(n, 2 * k);
    }

    Vector<T> event_loss(n);
    for (Index i = 0; i < n; ++i) {
      const T scale = detail::event_gradient_scale<T>(i, n, weights, reduction) / static_cast<T>(k > 0 ? k : 1);
      T sum = T(0);
      for (Index c = 0; c < k; ++c) {
        const T mu = output(i, 2 * c);
        const T raw_scale = output(i, 2 * c + 1);
        const T sigma = softplus(raw_scale);
        const auto terms = gaussian_nll_with_gradient(mu, target(i, c), sigma, floor_eps, constant);
        sum += terms.value;
        if (gradient != nullptr) {
          (*gradient)(i, 2 * c) = scale * terms.d_mu;
          (*gradient)(i, 2 * c + 1) = scale * terms.d_sigma * sigmoid(raw_scale);
        }
      }
      event_loss(i) = sum / static_cast<T>(k > 0 ? k : 1);
    }
    return detail::reduce_event_losses<T>(event_loss, weights, reduction);
  }
};

static_assert(Loss<GaussianNll>);

}  // namespace metnet
