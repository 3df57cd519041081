// SPDX-License-Identifier: MIT
#pragma once
// The trainable METNet multi-layer perceptron: parameters, a training
// forward pass that keeps what the backward pass needs, and the backward
// pass that accumulates parameter gradients.
//
// Layout (see mlp_weights.hpp): per hidden block Linear -> activation ->
// LayerNorm (when config.layer_norm), then a linear output head.
// Initialisation follows PyTorch 1.13's torch.nn.Linear.reset_parameters:
// weight and bias ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)) (what
// kaiming_uniform_(a=sqrt(5)) gives for the weight), and LayerNorm gamma = 1,
// beta = 0. The numbers come from metnet::Rng, drawn layer by layer, weight
// (row-major) before bias, so a seed reproduces them on any platform. They
// are not the numbers PyTorch draws.
//
// The graph is recorded on a metnet::Tape at the first forward pass and
// replayed afterwards, so a training step with an unchanged batch shape
// allocates no memory; nearly all of its time is in the matrix products of
// autodiff/detail/gemm.hpp, which set_threads spreads over several threads.
// Not provided: dropout, batch normalisation, the fast inference path (see
// metnet/inference), calls from several threads at once (use one Mlp per
// calling thread).

#include <cmath>
#include <string>
#include <vector>

#include "metnet/autodiff/parameter.hpp"
#include "metnet/autodiff/tape.hpp"
#include "metnet/autodiff/var.hpp"
#include "metnet/core/error.hpp"
#include "metnet/core/random.hpp"
#include "metnet/core/types.hpp"
#include "metnet/loss/loss_concept.hpp"
#include "metnet/nn/mlp_weights.hpp"

namespace metnet {

template <class T>
class Mlp {
 public:
  // A network with PyTorch's default initialisation drawn from rng.
  Mlp(const MlpConfig& config, Rng& rng) : config_(config) {
    check_config(config);
    allocate_parameters();
    for (Index layer = 0; layer <= config_.hidden_layers; ++layer) {
      Parameter<T>& weight = linear_weight(layer);
      Parameter<T>& bias = linear_bias(layer);
      const double bound = 1.0 / std::sqrt(static_cast<double>(weight.value.cols()));
      for (Index i = 0; i < weight.value.size(); ++i) {
        weight.value.data()[i] = static_cast<T>(rng.uniform(-bound, bound));
      }
      for (Index i = 0; i < bias.value.size(); ++i) {
        bias.value.data()[i] = static_cast<T>(rng.uniform(-bound, bound));
      }
    }
    for (Index layer = 0; config_.layer_norm && layer < config_.hidden_layers; ++layer) {
      norm_gamma(layer).value.setOnes();
      norm_beta(layer).value.setZero();
    }
  }

  // A network with the given weights; throws ShapeError or ConfigError if
  // they do not match their config.
  explicit Mlp(const MlpWeights<T>& weights) : config_(weights.config) {
    check_config(weights.config);
    weights.validate();
    allocate_parameters();
    for (Index layer = 0; layer <= config_.hidden_layers; ++layer) {
      const auto& source = weights.linear[static_cast<std::size_t>(layer)];
      linear_weight(layer).value = source.weight;
      linear_bias(layer).value = source.bias;
    }
    for (Index layer = 0; config_.layer_norm && layer < config_.hidden_layers; ++layer) {
      const auto& source = weights.norm[static_cast<std::size_t>(layer)];
      norm_gamma(layer).value = source.gamma;
      norm_beta(layer).value = source.beta;
    }
  }

  // The tape points into parameters_, so a copy would share them: copy
  // through weights() instead. Moving keeps every address valid.
  Mlp(const Mlp&) = delete;
  Mlp& operator=(const Mlp&) = delete;
  Mlp(Mlp&&) noexcept = default;
  Mlp& operator=(Mlp&&) noexcept = default;
  ~Mlp() = default;

  const MlpConfig& config() const noexcept { return config_; }

  // A copy of the current weights in the shared layout.
  MlpWeights<T> weights() const {
    MlpWeights<T> result;
    result.config = config_;
    for (Index layer = 0; layer <= config_.hidden_layers; ++layer) {
      result.linear.push_back({parameters_[linear_index(layer)].value, parameters_[linear_index(layer) + 1].value});
    }
    for (Index layer = 0; config_.layer_norm && layer < config_.hidden_layers; ++layer) {
      result.norm.push_back({parameters_[norm_index(layer)].value, parameters_[norm_index(layer) + 1].value});
    }
    return result;
  }

  // Pointers to every parameter, in the order of the layout: per block the
  // linear weight and bias, then LayerNorm gamma and beta; the head last.
  ParameterList<T> parameters() {
    ParameterList<T> list;
    list.reserve(parameters_.size());
    for (auto& parameter : parameters_) {
      list.push_back(&parameter);
    }
    return list;
  }

  Index parameter_count() const noexcept {
    Index count = 0;
    for (const auto& parameter : parameters_) {
      count += parameter.value.size();
    }
    return count;
  }

  void zero_grad() {
    for (auto& parameter : parameters_) {
      parameter.zero_grad();
    }
  }

  // Run forward and backward on `threads` threads (see Tape::set_threads):
  // the results do not depend on the thread count. Throws ConfigError for
  // threads < 1.
  void set_threads(int threads) { tape_.set_threads(threads); }
  int threads() const noexcept { return tape_.threads(); }

  // Runs body(begin, end) over [0, count) on the training threads, so that
  // Adam::step(network) and Adam::zero_grad(network) use them too (see
  // Tape::for_ranges).
  template <class Body>
  void for_ranges(Index count, Index grain, const Body& body) const {
    tape_.for_ranges(count, grain, body);
  }

  // Train on the path metnet used before the packed kernel, kept as the
  // reference for tests and benchmarks: Eigen's GEMM on one thread for the
  // products, and separate SiLU and LayerNorm nodes.
  void set_eigen_products(bool enabled) {
    tape_.set_eigen_products(enabled);
    if (enabled != eigen_products_) {
      eigen_products_ = enabled;
      tape_.clear();
      input_ = output_ = Var<T>();
    }
  }

  // Whether backward also computes dL/dinput (read it with input_grad()).
  // Off by default, which skips one matrix product of the first layer.
  void set_input_grad(bool enabled) {
    if (enabled != input_grad_enabled_) {
      input_grad_enabled_ = enabled;
      tape_.clear();
      input_ = output_ = Var<T>();
    }
  }

  // The training forward pass: returns the n x outputs output, valid until
  // the next forward. input may alias that output or any buffer of this
  // network, because it is copied first.
  const Matrix<T>& forward(ConstMatrixRef<T> input) {
    if (input.cols() != config_.inputs) {
      throw ShapeError("Mlp::forward: expected " + std::to_string(config_.inputs) +
                       " input columns (config.inputs), found " + std::to_string(input.cols()));
    }
    if (!output_.valid()) {
      record_graph(input);
    } else {
      tape_.set_value(input_, input);
      tape_.forward();
    }
    return output_.value();
  }

  // Accumulate dL/dparameter into Parameter::grad for every parameter, from
  // grad_output = dL/doutput of the last forward pass (its shape).
  void backward(ConstMatrixRef<T> grad_output) {
    if (!output_.valid()) {
      throw ConfigError("Mlp::backward: no forward pass to differentiate; call forward first");
    }
    tape_.backward(output_, grad_output);
  }

  // dL/dinput of the last backward pass; needs set_input_grad(true) before
  // the forward pass.
  const Matrix<T>& input_grad() const {
    if (!input_grad_enabled_ || !input_.valid() || !input_.has_grad()) {
      throw ConfigError(
          "Mlp::input_grad: no input gradient; call set_input_grad(true), then forward and backward");
    }
    return input_.grad();
  }

  // One training step without the optimiser: forward, the loss and its
  // gradient, backward. Returns the loss value; gradients accumulate into
  // Parameter::grad, so call zero_grad between steps. weights may be empty
  // for unit weights. Throws NumericError when the loss is not finite.
  template <Loss L>
  T forward_backward(ConstMatrixRef<T> input, ConstMatrixRef<T> target, ConstVectorRef<T> weights, const L& loss) {
    const Matrix<T>& output = forward(input);
    const T value = loss.template value_and_gradient<T>(output, target, weights, loss_grad_);
    if (!std::isfinite(value)) {
      throw NumericError("Mlp::forward_backward: the " + std::string(L::name()) +
                         " loss is not finite (" + std::to_string(value) +
                         "); check the inputs for inf or NaN and lower the learning rate");
    }
    backward(loss_grad_);
    return value;
  }

 private:
  static void check_config(const MlpConfig& config) {
    if (config.inputs <= 0 || config.outputs <= 0 || config.hidden_layers < 0 ||
        (config.hidden_layers > 0 && config.width <= 0)) {
      throw ConfigError("Mlp: inputs, outputs and width must be positive and hidden_layers not negative, found inputs=" +
                        std::to_string(config.inputs) + " outputs=" + std::to_string(config.outputs) +
                        " hidden_layers=" + std::to_string(config.hidden_layers) +
                        " width=" + std::to_string(config.width));
    }
    if (config.layer_norm && !(config.layer_norm_eps > 0.0)) {
      throw ConfigError("Mlp: layer_norm_eps must be positive, found " + std::to_string(config.layer_norm_eps) +
                        "; PyTorch's default is 1e-5");
    }
  }

  // Parameters per hidden block: weight, bias, and gamma, beta with LayerNorm.
  Index block_size() const noexcept { return config_.layer_norm ? 4 : 2; }
  std::size_t linear_index(Index layer) const noexcept { return static_cast<std::size_t>(layer * block_size()); }
  std::size_t norm_index(Index layer) const noexcept { return linear_index(layer) + 2; }
  Parameter<T>& linear_weight(Index layer) { return parameters_[linear_index(layer)]; }
  Parameter<T>& linear_bias(Index layer) { return parameters_[linear_index(layer) + 1]; }
  Parameter<T>& norm_gamma(Index layer) { return parameters_[norm_index(layer)]; }
  Parameter<T>& norm_beta(Index layer) { return parameters_[norm_index(layer) + 1]; }

  void allocate_parameters() {
    const Index hidden = config_.hidden_layers;
    parameters_.resize(static_cast<std::size_t>(hidden * block_size() + 2));
    for (Index layer = 0; layer <= hidden; ++layer) {
      const Index in = layer == 0 ? config_.inputs : config_.width;
      const Index out = layer == hidden ? config_.outputs : config_.width;
      const std::string prefix = "linear." + std::to_string(layer) + ".";
      linear_weight(layer).name = prefix + "weight";
      linear_weight(layer).value.setZero(out, in);
      linear_bias(layer).name = prefix + "bias";
      linear_bias(layer).value.setZero(1, out);
    }
    for (Index layer = 0; config_.layer_norm && layer < hidden; ++layer) {
      const std::string prefix = "norm." + std::to_string(layer) + ".";
      norm_gamma(layer).name = prefix + "gamma";
      norm_gamma(layer).value.setOnes(1, config_.width);
      norm_beta(layer).name = prefix + "beta";
      norm_beta(layer).value.setZero(1, config_.width);
    }
    for (auto& parameter : parameters_) {
      parameter.zero_grad();
    }
  }

  Var<T> record_activation(Var<T> x) {
    switch (config_.activation) {
      case Activation::identity: return x;
      case Activation::relu: return tape_.relu(x);
      case Activation::silu: return tape_.silu(x);
      case Activation::tanh: return tape_.tanh(x);
    }
    throw ConfigError("Mlp: unknown activation value " + std::to_string(static_cast<int>(config_.activation)) +
                      "; use identity, relu, silu or tanh");
  }

  void record_graph(ConstMatrixRef<T> input) {
    tape_.clear();
    // Only the input and parameter gradients are read after backward.
    tape_.set_keep_intermediate_grads(false);
    input_ = tape_.input(input, input_grad_enabled_);
    Var<T> h = input_;
    // SiLU and LayerNorm as one node, which keeps fewer intermediate values.
    const bool fused = !eigen_products_ && config_.activation == Activation::silu && config_.layer_norm &&
                       config_.width <= Tape<T>::max_silu_layer_norm_width;
    for (Index layer = 0; layer < config_.hidden_layers; ++layer) {
      h = tape_.linear(h, tape_.parameter(linear_weight(layer)), tape_.parameter(linear_bias(layer)));
      if (fused) {
        h = tape_.silu_layer_norm(h, tape_.parameter(norm_gamma(layer)), tape_.parameter(norm_beta(layer)),
                                  static_cast<T>(config_.layer_norm_eps));
        continue;
      }
      h = record_activation(h);
      if (config_.layer_norm) {
        h = tape_.layer_norm(h, tape_.parameter(norm_gamma(layer)), tape_.parameter(norm_beta(layer)),
                             static_cast<T>(config_.layer_norm_eps));
      }
    }
    const Index head = config_.hidden_layers;
    output_ = tape_.linear(h, tape_.parameter(linear_weight(head)), tape_.parameter(linear_bias(head)));
  }

  MlpConfig config_;
  std::vector<Parameter<T>> parameters_;
  Tape<T> tape_;
  Var<T> input_;
  Var<T> output_;
  Matrix<T> loss_grad_;
  bool input_grad_enabled_ = false;
  bool eigen_products_ = false;
};

}  // namespace metnet
