// SPDX-License-Identifier: MIT
#pragma once
// The shape of a METNet multi-layer perceptron and its weights in a plain,
// framework-neutral form: what the training network exports, what the
// inference path, the JSON weights file and the ONNX converter read.
//
// Layout, as in the ATLAS METNet networks and PyTorch:
//   h_0 = x
//   h_i = LayerNorm_i(act(h_{i-1} W_i^T + b_i))    for i = 1 .. hidden_layers
//   y   = h_L W_out^T + b_out
// LayerNorm is applied after the activation when config.layer_norm is set.
// W has shape (outputs x inputs), as torch.nn.Linear stores it.

#include <string>
#include <string_view>
#include <vector>

#include "metnet/core/error.hpp"
#include "metnet/core/types.hpp"

namespace metnet {

enum class Activation { identity, relu, silu, tanh };

inline std::string_view to_string(Activation activation) noexcept {
  switch (activation) {
    case Activation::identity: return "identity";
    case Activation::relu: return "relu";
    case Activation::silu: return "silu";
    case Activation::tanh: return "tanh";
  }
  return "unknown";
}

inline Activation parse_activation(std::string_view name) {
  if (name == "identity") return Activation::identity;
  if (name == "relu") return Activation::relu;
  if (name == "silu") return Activation::silu;
  if (name == "tanh") return Activation::tanh;
  throw ConfigError("unknown activation '" + std::string(name) +
                    "': expected one of identity, relu, silu, tanh");
}

struct MlpConfig {
  Index inputs = 0;
  Index outputs = 2;
  Index hidden_layers = 5;
  Index width = 512;
  Activation activation = Activation::silu;
  bool layer_norm = true;
  double layer_norm_eps = 1e-5;  // PyTorch's default; Keras uses 1e-3

  friend bool operator==(const MlpConfig&, const MlpConfig&) = default;
};

template <class T>
struct LinearWeights {
  Matrix<T> weight;  // outputs x inputs
  RowVector<T> bias;  // outputs
};

template <class T>
struct LayerNormWeights {
  RowVector<T> gamma;  // width
  RowVector<T> beta;  // width
};

template <class T>
struct MlpWeights {
  MlpConfig config;
  std::vector<LinearWeights<T>> linear;  // hidden_layers + 1, the output head last
  std::vector<LayerNormWeights<T>> norm;  // hidden_layers if config.layer_norm, else empty

  // Check every shape against config; throws ShapeError naming the layer.
  void validate() const {
    const MlpConfig& c = config;
    if (c.inputs <= 0 || c.outputs <= 0 || c.hidden_layers < 0 || (c.hidden_layers > 0 && c.width <= 0)) {
      throw ShapeError("MLP config: inputs, outputs and width must be positive, found inputs=" +
                       std::to_string(c.inputs) + " outputs=" + std::to_string(c.outputs) +
                       " hidden_layers=" + std::to_string(c.hidden_layers) + " width=" + std::to_string(c.width));
    }
    const std::size_t expected_linear = static_cast<std::size_t>(c.hidden_layers) + 1;  // no overflow at INT64_MAX
    if (linear.size() != expected_linear) {
      throw ShapeError("MLP weights: expected " + std::to_string(expected_linear) + " linear layers (" +
                       std::to_string(c.hidden_layers) + " hidden + output head), found " +
                       std::to_string(linear.size()));
    }
    const auto expected_norm = c.layer_norm ? static_cast<std::size_t>(c.hidden_layers) : std::size_t{0};
    if (norm.size() != expected_norm) {
      throw ShapeError("MLP weights: expected " + std::to_string(expected_norm) + " layer norms, found " +
                       std::to_string(norm.size()));
    }
    for (std::size_t i = 0; i < linear.size(); ++i) {
      const Index in = i == 0 ? c.inputs : c.width;
      const Index out = i + 1 == linear.size() ? c.outputs : c.width;
      const auto& layer = linear[i];
      if (layer.weight.rows() != out || layer.weight.cols() != in) {
        throw ShapeError("MLP weights: linear layer " + std::to_string(i) + " weight: expected " +
                         std::to_string(out) + "x" + std::to_string(in) + ", found " +
                         std::to_string(layer.weight.rows()) + "x" + std::to_string(layer.weight.cols()));
      }
      if (layer.bias.size() != out) {
        throw ShapeError("MLP weights: linear layer " + std::to_string(i) + " bias: expected " +
                         std::to_string(out) + " values, found " + std::to_string(layer.bias.size()));
      }
    }
    for (std::size_t i = 0; i < norm.size(); ++i) {
      if (norm[i].gamma.size() != c.width || norm[i].beta.size() != c.width) {
        throw ShapeError("MLP weights: layer norm " + std::to_string(i) + ": expected gamma and beta of " +
                         std::to_string(c.width) + " values, found " + std::to_string(norm[i].gamma.size()) +
                         " and " + std::to_string(norm[i].beta.size()));
      }
    }
  }

  template <class U>
  MlpWeights<U> cast() const {
    MlpWeights<U> result;
    result.config = config;
    for (const auto& layer : linear) {
      result.linear.push_back({layer.weight.template cast<U>(), layer.bias.template cast<U>()});
    }
    for (const auto& layer : norm) {
      result.norm.push_back({layer.gamma.template cast<U>(), layer.beta.template cast<U>()});
    }
    return result;
  }
};

}  // namespace metnet
