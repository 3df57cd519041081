// SPDX-License-Identifier: MIT
#pragma once
// FixedMlp: a METNet MLP whose shapes are template arguments, for trigger
// prototypes and for headers generated with compiled-in weights. It stores
// its packed weights in std::array members and never allocates; predict
// keeps its activations on the stack (two rows of the padded width).
//
//   static const metnet::FixedMlp<77, 128, 10, 2> net(weights);  // checks shapes
//   std::array<float, 2> met = net.predict(features);
//
// The object is large (the weights of Net S are 0.63 MB), so give it static
// storage or allocate it once; do not put it on the stack. The numerics and
// the weight layout are those of InferenceMlp (detail/kernels.hpp).
// Left out: a batched path (use InferenceMlp) and bf16 storage.

#include <algorithm>
#include <array>
#include <span>
#include <string>

#include "metnet/core/error.hpp"
#include "metnet/core/types.hpp"
#include "metnet/inference/detail/kernels.hpp"
#include "metnet/nn/mlp_weights.hpp"

namespace metnet {

template <Index Inputs, Index Width, Index Layers, Index Outputs, class T = float>
class FixedMlp {
  static_assert(Inputs > 0 && Width > 0 && Outputs > 0, "FixedMlp: every size must be positive");
  static_assert(Layers >= 1, "FixedMlp: at least one hidden layer");

  static constexpr Index lanes = detail::packet_size<T>;
  static constexpr Index padded_width = detail::round_up(Width, lanes);
  static constexpr Index padded_outputs = detail::round_up(Outputs, lanes);
  static constexpr Index panel_size = Inputs * padded_width + (Layers - 1) * Width * padded_width + Width * padded_outputs;
  static constexpr Index bias_size = Layers * padded_width + padded_outputs;
  static constexpr Index buffer_size = std::max(padded_width, padded_outputs);

 public:
  using Scalar = T;
  static constexpr Index inputs = Inputs;
  static constexpr Index width = Width;
  static constexpr Index hidden_layers = Layers;
  static constexpr Index outputs = Outputs;

  // Checks that `weights` has exactly this shape (ShapeError naming the
  // mismatch otherwise) and packs it.
  explicit FixedMlp(const MlpWeights<T>& weights)
      : activation_(weights.config.activation), layer_norm_(weights.config.layer_norm),
        eps_(static_cast<T>(weights.config.layer_norm_eps)) {
    weights.validate();
    const MlpConfig& c = weights.config;
    if (c.inputs != Inputs || c.width != Width || c.hidden_layers != Layers || c.outputs != Outputs) {
      throw ShapeError("FixedMlp<" + std::to_string(Inputs) + ", " + std::to_string(Width) + ", " +
                       std::to_string(Layers) + ", " + std::to_string(Outputs) + ">: the weights have inputs=" +
                       std::to_string(c.inputs) + " width=" + std::to_string(c.width) + " hidden_layers=" +
                       std::to_string(c.hidden_layers) + " outputs=" + std::to_string(c.outputs) +
                       "; instantiate FixedMlp with these sizes or use InferenceMlp");
    }
    if (c.layer_norm && !(c.layer_norm_eps > 0.0)) {
      throw ConfigError("FixedMlp: layer_norm_eps must be positive, found " + std::to_string(c.layer_norm_eps));
    }

    panels_.fill(T(0));
    biases_.fill(T(0));
    for (Index i = 0; i <= Layers; ++i) {
      const auto& linear = weights.linear[static_cast<std::size_t>(i)];
      detail::pack_linear<T, T>(linear.weight, panels_.data() + panel_offset(i));
      std::copy_n(linear.bias.data(), linear.bias.size(), biases_.data() + i * padded_width);
    }
    if (layer_norm_) {
      for (Index i = 0; i < Layers; ++i) {
        const auto& norm = weights.norm[static_cast<std::size_t>(i)];
        std::copy_n(norm.gamma.data(), Width, gammas_.data() + i * Width);
        std::copy_n(norm.beta.data(), Width, betas_.data() + i * Width);
      }
    }
  }

  // Packs weights given as raw arrays, as a generated header stores them
  // (inference/header_export.hpp); allocates nothing. weights[i] points to
  // the (outputs x inputs) row-major weight of linear layer i (hidden layers,
  // then the head) and biases[i] to its bias; gammas[i] and betas[i] hold
  // Width values each and are ignored when layer_norm is false. The caller
  // guarantees the sizes and a positive layer_norm_eps.
  FixedMlp(const std::array<const T*, Layers + 1>& weights, const std::array<const T*, Layers + 1>& biases,
           const std::array<const T*, Layers>& gammas, const std::array<const T*, Layers>& betas,
           Activation activation, bool layer_norm, double layer_norm_eps) noexcept
      : activation_(activation), layer_norm_(layer_norm), eps_(static_cast<T>(layer_norm_eps)) {
    using RowMajor = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
    panels_.fill(T(0));
    biases_.fill(T(0));
    for (Index i = 0; i <= Layers; ++i) {
      const Index in = i == 0 ? Inputs : Width;
      const Index out = i == Layers ? Outputs : Width;
      const Eigen::Map<const RowMajor> weight(weights[static_cast<std::size_t>(i)], out, in);
      detail::pack_linear<T, T>(weight, panels_.data() + panel_offset(i));
      std::copy_n(biases[static_cast<std::size_t>(i)], out, biases_.data() + i * padded_width);
    }
    if (layer_norm_) {
      for (Index i = 0; i < Layers; ++i) {
        std::copy_n(gammas[static_cast<std::size_t>(i)], Width, gammas_.data() + i * Width);
        std::copy_n(betas[static_cast<std::size_t>(i)], Width, betas_.data() + i * Width);
      }
    }
  }

  // Predicts one event without allocating.
  void predict(const T* input, T* output) const noexcept {
    alignas(64) std::array<T, buffer_size> first;
    alignas(64) std::array<T, buffer_size> second;
    T* buffers[2] = {first.data(), second.data()};

    const T* x = input;
    for (Index i = 0; i < Layers; ++i) {
      T* y = buffers[i % 2];
      const Index layer_inputs = i == 0 ? Inputs : Width;
      detail::dense_row(detail::PackedLayer<T, T>{panels_.data() + panel_offset(i), biases_.data() + i * padded_width,
                                                  layer_inputs, Width, padded_width},
                        x, y);
      const T* gamma = layer_norm_ ? gammas_.data() + i * Width : nullptr;
      const T* beta = layer_norm_ ? betas_.data() + i * Width : nullptr;
      detail::activate_normalise(y, Width, activation_, gamma, beta, eps_);
      x = y;
    }
    T* y = buffers[Layers % 2];
    detail::dense_row(detail::PackedLayer<T, T>{panels_.data() + panel_offset(Layers),
                                                biases_.data() + Layers * padded_width, Width, Outputs,
                                                padded_outputs},
                      x, y);
    std::copy_n(y, Outputs, output);
  }

  std::array<T, Outputs> predict(std::span<const T, Inputs> input) const noexcept {
    std::array<T, Outputs> output;
    predict(input.data(), output.data());
    return output;
  }

 private:
  static constexpr Index panel_offset(Index layer) noexcept {
    return layer == 0 ? 0 : Inputs * padded_width + (layer - 1) * Width * padded_width;
  }

  alignas(64) std::array<T, panel_size> panels_;
  alignas(64) std::array<T, bias_size> biases_;
  std::array<T, Layers * Width> gammas_{};
  std::array<T, Layers * Width> betas_{};
  Activation activation_;
  bool layer_norm_;
  T eps_;
};

}  // namespace metnet
