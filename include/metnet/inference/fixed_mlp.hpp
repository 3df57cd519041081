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

  // Values in the packed panel of a layer, in the layout InferenceMlp
  // chooses for it (detail::uses_dot_layout).
  static constexpr Index panel_values(Index layer_inputs, Index layer_outputs) noexcept {
    return detail::uses_dot_layout<T>(layer_outputs) ? layer_outputs * detail::round_up(layer_inputs, lanes)
                                                     : layer_inputs * detail::round_up(layer_outputs, lanes);
  }

  static constexpr Index panel_size =
      panel_values(Inputs, Width) + (Layers - 1) * panel_values(Width, Width) + panel_values(Width, Outputs);
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

    clear();
    for (Index i = 0; i <= Layers; ++i) {
      const auto& linear = weights.linear[static_cast<std::size_t>(i)];
      const T* gamma = nullptr;
      const T* beta = nullptr;
      if (layer_norm_ && i > 0) {
        gamma = weights.norm[static_cast<std::size_t>(i - 1)].gamma.data();
        beta = weights.norm[static_cast<std::size_t>(i - 1)].beta.data();
      }
      pack(i, linear.weight, linear.bias.data(), gamma, beta);
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
    clear();
    for (Index i = 0; i <= Layers; ++i) {
      const Index in = i == 0 ? Inputs : Width;
      const Index out = i == Layers ? Outputs : Width;
      const Eigen::Map<const RowMajor> weight(weights[static_cast<std::size_t>(i)], out, in);
      const bool folded = layer_norm_ && i > 0;
      pack(i, weight, biases[static_cast<std::size_t>(i)], folded ? gammas[static_cast<std::size_t>(i - 1)] : nullptr,
           folded ? betas[static_cast<std::size_t>(i - 1)] : nullptr);
    }
  }

  // Predicts one event without allocating.
  void predict(const T* input, T* output) const noexcept {
    alignas(64) std::array<T, buffer_size> first;
    alignas(64) std::array<T, buffer_size> second;
    T* buffers[2] = {first.data(), second.data()};

    const T* x = input;
    detail::RowNorm<T> norm;
    for (Index i = 0; i < Layers; ++i) {
      T* y = buffers[i % 2];
      const Index layer_inputs = i == 0 ? Inputs : Width;
      multiply(detail::PackedLayer<T, T>{panels_.data() + panel_offset(i), bias(i), layer_inputs, Width, padded_width},
               x, y);
      unfold(i, y, padded_width, norm);
      detail::apply_activation(y, padded_width, activation_);
      if (layer_norm_) {
        norm = detail::row_statistics(y, Width, eps_);
      }
      x = y;
    }
    T* y = buffers[Layers % 2];
    multiply(detail::PackedLayer<T, T>{panels_.data() + panel_offset(Layers), bias(Layers), Width, Outputs,
                                       padded_outputs},
             x, y);
    unfold(Layers, y, padded_outputs, norm);
    std::copy_n(y, Outputs, output);
  }

  std::array<T, Outputs> predict(std::span<const T, Inputs> input) const noexcept {
    std::array<T, Outputs> output;
    predict(input.data(), output.data());
    return output;
  }

 private:
  static constexpr Index panel_offset(Index layer) noexcept {
    return layer == 0 ? 0 : panel_values(Inputs, Width) + (layer - 1) * panel_values(Width, Width);
  }

  // The bias of layer i, or nullptr for a folded layer, whose bias is zero
  // (see pack), as InferenceMlp passes it.
  const T* bias(Index i) const noexcept { return layer_norm_ && i > 0 ? nullptr : biases_.data() + i * padded_width; }

  static void multiply(const detail::PackedLayer<T, T>& layer, const T* x, T* y) noexcept {
    if (detail::uses_dot_layout<T>(layer.outputs)) {
      detail::dense_dots(layer, x, y);
    } else {
      detail::dense_row(layer, x, y);
    }
  }

  template <class Weight>
  static void pack_weight(const Weight& weight, T* panel) noexcept {
    if (detail::uses_dot_layout<T>(weight.rows())) {
      detail::pack_rows<T, T>(weight, panel);
    } else {
      detail::pack_linear<T, T>(weight, panel);
    }
  }

  void clear() noexcept {
    panels_.fill(T(0));
    biases_.fill(T(0));
    row_sums_.fill(T(0));
    offsets_.fill(T(0));
  }

  // Packs linear layer i. With gamma and beta (the layer normalisation in
  // front of it), packs the folded layer (detail::ScaledColumns) instead,
  // with a zero bias, because the offset d is added after the product.
  template <class Weight>
  void pack(Index i, const Weight& weight, const T* bias, const T* gamma, const T* beta) noexcept {
    T* panel = panels_.data() + panel_offset(i);
    const Index offset = i * padded_width;
    if (gamma == nullptr) {
      pack_weight(weight, panel);
      std::copy_n(bias, weight.rows(), biases_.data() + offset);
      return;
    }
    pack_weight(detail::ScaledColumns<T, Weight>{weight, gamma}, panel);
    detail::fold_layer_norm<T>(weight, bias, gamma, beta, row_sums_.data() + offset, offsets_.data() + offset);
  }

  // Applies the layer normalisation of the block before layer i (see pack).
  void unfold(Index i, T* y, Index width, const detail::RowNorm<T>& norm) const noexcept {
    if (layer_norm_ && i > 0) {
      detail::unfold_layer_norm(y, width, norm, row_sums_.data() + i * padded_width,
                                offsets_.data() + i * padded_width);
    }
  }

  alignas(64) std::array<T, panel_size> panels_;
  alignas(64) std::array<T, bias_size> biases_;
  alignas(64) std::array<T, bias_size> row_sums_;  // c of each folded layer, zero elsewhere
  alignas(64) std::array<T, bias_size> offsets_;   // d of each folded layer, zero elsewhere
  Activation activation_;
  bool layer_norm_;
  T eps_;
};

}  // namespace metnet
