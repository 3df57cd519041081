// SPDX-License-Identifier: MIT
#pragma once
// The Adam optimiser with PyTorch 1.13 semantics, optionally with decoupled
// weight decay (AdamW), gradient-norm clipping and a learning-rate schedule.
//
// Leaves out: AMSGrad, maximize, per-parameter groups. References: D. P.
// Kingma and J. Ba, "Adam: a method for stochastic optimization", ICLR 2015;
// I. Loshchilov and F. Hutter, "Decoupled weight decay regularization",
// ICLR 2019; torch.optim.Adam and torch.optim.AdamW (single-tensor path).
//
// One step t = 1, 2, ... for each parameter theta with gradient g:
//   [clip]   if max_grad_norm > 0: g *= min(1, max_grad_norm / (|G| + 1e-6)),
//            |G| the global L2 norm over all parameters (clip_grad_norm_)
//   [decay]  l2:        g = g + weight_decay * theta          (torch Adam)
//            decoupled: theta = theta * (1 - lr * weight_decay) (torch AdamW)
//   m = beta1 m + (1 - beta1) g
//   v = beta2 v + (1 - beta2) g^2
//   theta = theta - (lr / (1 - beta1^t)) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
// Both moments are bias-corrected and eps is added after sqrt(v_hat), as in
// PyTorch; TensorFlow's "epsilon hat" and eps inside the square root differ
// when |g| is near eps.
//
// Parameters (defaults of torch.optim.Adam): lr 1e-3, beta1 0.9, beta2
// 0.999, eps 1e-8, weight_decay 0 (AdamW's default is 1e-2: set it), all
// dimensionless apart from lr and eps, which carry the units of the
// parameters. The learning rate of step t (0-based) is schedule(t) when a
// schedule is set, else lr.
// The step clips the gradients in place (as clip_grad_norm_) and throws
// NumericError, before changing anything, if a gradient is not finite.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "metnet/autodiff/parameter.hpp"
#include "metnet/core/error.hpp"
#include "metnet/core/range_runner.hpp"
#include "metnet/core/types.hpp"
#include "metnet/optim/clip_grad_norm.hpp"
#include "metnet/optim/detail/exact_sqrt.hpp"

namespace metnet {

// How weight decay enters Adam.
enum class WeightDecay {
  l2,         // added to the gradient (torch.optim.Adam)
  decoupled,  // applied to the parameter (torch.optim.AdamW)
};

struct AdamOptions {
  double lr = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0.0;
  WeightDecay decay_mode = WeightDecay::l2;
  double max_grad_norm = 0.0;                        // 0 disables clipping
  std::function<double(std::int64_t)> schedule = {};  // learning rate of step t (0-based), optional
};

// The optimiser state for checkpoints: the step count and both moments, in
// the order of the parameter list.
template <class T>
struct AdamState {
  std::int64_t step = 0;
  std::vector<Matrix<T>> first_moment;   // m
  std::vector<Matrix<T>> second_moment;  // v
};

template <class T>
class Adam {
 public:
  Adam(ParameterList<T> parameters, AdamOptions options = {})
      : parameters_(std::move(parameters)), options_(std::move(options)) {
    validate(options_);
    check_distinct(parameters_);
    state_.first_moment.reserve(parameters_.size());
    state_.second_moment.reserve(parameters_.size());
    for (std::size_t k = 0; k < parameters_.size(); ++k) {
      const Matrix<T>& value = parameters_[k]->value;
      state_.first_moment.push_back(Matrix<T>::Zero(value.rows(), value.cols()));
      state_.second_moment.push_back(Matrix<T>::Zero(value.rows(), value.cols()));
      for (Index begin = 0; begin < value.size(); begin += piece_size) {
        pieces_.push_back({k, begin, std::min(piece_size, value.size() - begin)});
      }
    }
    sums_.resize(parameters_.size());
  }

  // Applies one update from the gradients stored in the parameters and
  // returns the global gradient norm before clipping.
  double step() {
    SerialRunner serial;
    return step(serial);
  }

  // The same update with the work split between the threads of `runner`,
  // for instance the Mlp being trained. The result does not depend on the
  // thread count, because every value is computed alone and the norm is
  // summed per parameter, then over parameters in order.
  template <RangeRunner R>
  double step(R& runner) {
    check_gradient_shapes();
    runner.for_ranges(static_cast<Index>(parameters_.size()), 1, [&](Index begin, Index end) {
      for (Index k = begin; k < end; ++k) {
        const Matrix<T>& grad = parameters_[static_cast<std::size_t>(k)]->grad;
        sums_[static_cast<std::size_t>(k)] = detail::sum_of_squares(grad.data(), grad.size());
      }
    });
    double sum_of_squares = 0.0;
    for (std::size_t k = 0; k < parameters_.size(); ++k) {
      detail::check_finite_gradient(*parameters_[k], sums_[k]);
      sum_of_squares += sums_[k];
    }
    const double norm = std::sqrt(sum_of_squares);
    // Clipping as clip_grad_norm does it.
    const double clip = options_.max_grad_norm > 0.0 ? detail::clip_coefficient(norm, options_.max_grad_norm) : 1.0;

    const double lr = learning_rate();
    state_.step += 1;
    const auto t = static_cast<double>(state_.step);
    const double bias_correction1 = 1.0 - std::pow(options_.beta1, t);
    const double bias_correction2 = 1.0 - std::pow(options_.beta2, t);
    const StepConstants constants{
        .lr = static_cast<T>(lr),
        .step_size = static_cast<T>(lr / bias_correction1),
        .inv_sqrt_bias2 = static_cast<T>(1.0 / std::sqrt(bias_correction2)),
        .beta1 = static_cast<T>(options_.beta1),
        .beta2 = static_cast<T>(options_.beta2),
        .eps = static_cast<T>(options_.eps),
        .decay = static_cast<T>(options_.weight_decay),
        .clip = static_cast<T>(clip),
        .clipped = clip < 1.0,
    };
    runner.for_ranges(static_cast<Index>(pieces_.size()), 1, [&](Index begin, Index end) {
      for (Index piece = begin; piece < end; ++piece) {
        update(pieces_[static_cast<std::size_t>(piece)], constants);
      }
    });
    return norm;
  }

  // Clears the gradients of all parameters.
  void zero_grad() {
    SerialRunner serial;
    zero_grad(serial);
  }

  // Clears the gradients on the threads of `runner`. Throws ShapeError,
  // before changing anything, if a parameter changed shape after the
  // optimiser was created, because the pieces cover only the first shape.
  template <RangeRunner R>
  void zero_grad(R& runner) {
    check_value_shapes("Adam::zero_grad");
    for (Parameter<T>* parameter : parameters_) {
      parameter->grad.resize(parameter->value.rows(), parameter->value.cols());
    }
    runner.for_ranges(static_cast<Index>(pieces_.size()), 1, [&](Index begin, Index end) {
      for (Index index = begin; index < end; ++index) {
        const Piece& piece = pieces_[static_cast<std::size_t>(index)];
        T* grad = parameters_[piece.parameter]->grad.data() + piece.begin;
        std::fill(grad, grad + piece.count, T(0));
      }
    });
  }

  // The learning rate that the next step will use.
  double learning_rate() const { return options_.schedule ? options_.schedule(state_.step) : options_.lr; }

  // Sets the base learning rate (used when no schedule is set).
  void set_learning_rate(double lr) {
    AdamOptions changed = options_;
    changed.lr = lr;
    validate(changed);
    options_.lr = lr;
  }

  void set_schedule(std::function<double(std::int64_t)> schedule) { options_.schedule = std::move(schedule); }

  const AdamOptions& options() const noexcept { return options_; }
  std::int64_t step_count() const noexcept { return state_.step; }

  const AdamState<T>& state() const noexcept { return state_; }

  // Restores a saved state; the moments must match the parameter shapes.
  void load_state(AdamState<T> state) {
    if (state.first_moment.size() != parameters_.size() || state.second_moment.size() != parameters_.size()) {
      throw ShapeError("Adam::load_state: expected moments for " + std::to_string(parameters_.size()) +
                       " parameters, found " + std::to_string(state.first_moment.size()) + " and " +
                       std::to_string(state.second_moment.size()) + "; restore the state into the same model");
    }
    if (state.step < 0) {
      throw ConfigError("Adam::load_state: expected a step count >= 0, found " + std::to_string(state.step));
    }
    for (std::size_t k = 0; k < parameters_.size(); ++k) {
      const auto& value = parameters_[k]->value;
      for (const auto* moment : {&state.first_moment[k], &state.second_moment[k]}) {
        if (moment->rows() != value.rows() || moment->cols() != value.cols()) {
          throw ShapeError("Adam::load_state: parameter '" + parameters_[k]->name + "': expected moments of shape " +
                           std::to_string(value.rows()) + "x" + std::to_string(value.cols()) + ", found " +
                           std::to_string(moment->rows()) + "x" + std::to_string(moment->cols()) +
                           "; restore the state into the same model");
        }
      }
    }
    state_ = std::move(state);
  }

 private:
  // Values per piece of the update: 16 KiB of float per array, so that a
  // thread's pieces are large next to the cost of handing them out.
  static constexpr Index piece_size = 4096;

  // A range of one parameter's values: [begin, begin + count).
  struct Piece {
    std::size_t parameter = 0;
    Index begin = 0;
    Index count = 0;
  };

  // The values of one step, the same for every parameter.
  struct StepConstants {
    T lr;
    T step_size;       // lr / (1 - beta1^t)
    T inv_sqrt_bias2;  // 1 / sqrt(1 - beta2^t)
    T beta1;
    T beta2;
    T eps;
    T decay;
    T clip;            // gradient factor of the clipping
    bool clipped;      // whether clip applies (clip < 1)
  };

  // Clips and applies the update to one piece.
  void update(const Piece& piece, const StepConstants& c) {
    using Array = Eigen::Array<T, Eigen::Dynamic, 1>;
    const std::size_t k = piece.parameter;
    Eigen::Map<Array> theta(parameters_[k]->value.data() + piece.begin, piece.count);
    Eigen::Map<Array> g(parameters_[k]->grad.data() + piece.begin, piece.count);
    Eigen::Map<Array> m(state_.first_moment[k].data() + piece.begin, piece.count);
    Eigen::Map<Array> v(state_.second_moment[k].data() + piece.begin, piece.count);
    if (c.clipped) {
      g *= c.clip;
    }
    const bool decoupled = options_.decay_mode == WeightDecay::decoupled;
    if (options_.weight_decay != 0.0 && decoupled) {
      theta *= T(1) - c.lr * c.decay;
    }
    if (options_.weight_decay != 0.0 && !decoupled) {
      m = c.beta1 * m + (T(1) - c.beta1) * (g + c.decay * theta);
      v = c.beta2 * v + (T(1) - c.beta2) * (g + c.decay * theta).square();
    } else {
      m = c.beta1 * m + (T(1) - c.beta1) * g;
      v = c.beta2 * v + (T(1) - c.beta2) * g.square();
    }
    // Not v.sqrt(): Eigen's vectorised sqrt (EIGEN_FAST_MATH, on by default) computes x * rsqrt(x) and masks
    // x = 0 afterwards, so it raises FE_INVALID (0 * inf) whenever a parameter has had only zero gradients,
    // which a trapping floating-point environment turns into SIGFPE. detail::ExactSqrt is the correctly
    // rounded square root, vectorised where the instruction set has one.
    theta -= c.step_size * m / (v.unaryExpr(detail::ExactSqrt{}) * c.inv_sqrt_bias2 + c.eps);
  }

  // Rejects a list that contains a parameter twice, which the update would
  // change twice per step, at the same time on two threads.
  static void check_distinct(const ParameterList<T>& parameters) {
    for (std::size_t k = 0; k < parameters.size(); ++k) {
      for (std::size_t j = 0; j < k; ++j) {
        if (parameters[j] == parameters[k]) {
          throw ConfigError("Adam: parameter '" + parameters[k]->name + "' appears twice in the list (positions " +
                            std::to_string(j) + " and " + std::to_string(k) + "); pass each parameter once");
        }
      }
    }
  }

  static void validate(const AdamOptions& options) {
    const auto fail = [](const std::string& what, double found) {
      throw ConfigError("Adam: expected " + what + ", found " + std::to_string(found));
    };
    if (!(options.lr >= 0.0) || !std::isfinite(options.lr)) fail("a finite learning rate >= 0", options.lr);
    if (!(options.beta1 >= 0.0 && options.beta1 < 1.0)) fail("beta1 in [0, 1)", options.beta1);
    if (!(options.beta2 >= 0.0 && options.beta2 < 1.0)) fail("beta2 in [0, 1)", options.beta2);
    if (!(options.eps >= 0.0)) fail("eps >= 0", options.eps);
    if (!(options.weight_decay >= 0.0)) fail("weight_decay >= 0", options.weight_decay);
    if (!(options.max_grad_norm >= 0.0)) fail("max_grad_norm >= 0 (0 disables clipping)", options.max_grad_norm);
  }

  // Throws ShapeError, naming `function`, if a parameter's shape differs
  // from the one it had when the optimiser was created.
  void check_value_shapes(const std::string& function) const {
    for (std::size_t k = 0; k < parameters_.size(); ++k) {
      const Matrix<T>& value = parameters_[k]->value;
      const Matrix<T>& moment = state_.first_moment[k];
      if (value.rows() != moment.rows() || value.cols() != moment.cols()) {
        throw ShapeError(function + ": parameter '" + parameters_[k]->name + "': expected the shape " +
                         std::to_string(moment.rows()) + "x" + std::to_string(moment.cols()) +
                         " it had when the optimiser was created, found " + std::to_string(value.rows()) + "x" +
                         std::to_string(value.cols()) + "; create the optimiser after the last change of shape");
      }
    }
  }

  void check_gradient_shapes() const {
    check_value_shapes("Adam::step");
    for (const Parameter<T>* parameter : parameters_) {
      if (parameter->grad.rows() != parameter->value.rows() || parameter->grad.cols() != parameter->value.cols()) {
        throw ShapeError("Adam::step: parameter '" + parameter->name + "': expected a gradient of shape " +
                         std::to_string(parameter->value.rows()) + "x" + std::to_string(parameter->value.cols()) +
                         ", found " + std::to_string(parameter->grad.rows()) + "x" +
                         std::to_string(parameter->grad.cols()) + "; call zero_grad before the backward pass");
      }
    }
  }

  ParameterList<T> parameters_;
  AdamOptions options_;
  AdamState<T> state_;
  std::vector<Piece> pieces_;  // every parameter's values, in pieces of piece_size
  std::vector<double> sums_;   // per parameter: the sum of squares of its gradient
};

}  // namespace metnet
