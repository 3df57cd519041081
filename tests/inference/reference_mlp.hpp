// SPDX-License-Identifier: MIT
#pragma once
// Test helpers for metnet/inference: random MLP weights and a plain
// double-precision forward pass written straight from the layout in
// nn/mlp_weights.hpp, with no packing, fusion or SIMD.

#include <cmath>
#include <vector>

#include "metnet/core/random.hpp"
#include "metnet/core/types.hpp"
#include "metnet/nn/mlp_weights.hpp"

namespace metnet::test {

// Weights drawn like torch.nn.Linear's default scale (normal with sigma
// 1/sqrt(inputs)), with LayerNorm gamma near 1 and beta near 0.
inline MlpWeights<double> random_weights(const MlpConfig& config, std::uint64_t seed) {
  Rng rng(seed);
  MlpWeights<double> weights;
  weights.config = config;
  for (Index i = 0; i <= config.hidden_layers; ++i) {
    const Index in = i == 0 ? config.inputs : config.width;
    const Index out = i == config.hidden_layers ? config.outputs : config.width;
    LinearWeights<double> linear{Matrix<double>(out, in), RowVector<double>(out)};
    const double scale = 1.0 / std::sqrt(static_cast<double>(in));
    for (Index r = 0; r < out; ++r) {
      for (Index c = 0; c < in; ++c) {
        linear.weight(r, c) = rng.normal(0.0, scale);
      }
      linear.bias(r) = rng.normal(0.0, 0.1);
    }
    weights.linear.push_back(linear);
  }
  if (config.layer_norm) {
    for (Index i = 0; i < config.hidden_layers; ++i) {
      LayerNormWeights<double> norm{RowVector<double>(config.width), RowVector<double>(config.width)};
      for (Index c = 0; c < config.width; ++c) {
        norm.gamma(c) = 1.0 + rng.normal(0.0, 0.1);
        norm.beta(c) = rng.normal(0.0, 0.1);
      }
      weights.norm.push_back(norm);
    }
  }
  return weights;
}

inline Matrix<double> random_inputs(Index rows, Index columns, std::uint64_t seed, double sigma = 1.0) {
  Rng rng(seed);
  Matrix<double> inputs(rows, columns);
  for (Index r = 0; r < rows; ++r) {
    for (Index c = 0; c < columns; ++c) {
      inputs(r, c) = rng.normal(0.0, sigma);
    }
  }
  return inputs;
}

inline double reference_activation(Activation activation, double x) {
  switch (activation) {
    case Activation::identity: return x;
    case Activation::relu: return x > 0.0 ? x : 0.0;
    case Activation::silu: return x / (1.0 + std::exp(-x));
    case Activation::tanh: return std::tanh(x);
  }
  return x;
}

// Forward pass of one event in double precision.
inline std::vector<double> reference_forward(const MlpWeights<double>& weights, const std::vector<double>& input) {
  std::vector<double> h = input;
  for (std::size_t i = 0; i < weights.linear.size(); ++i) {
    const auto& linear = weights.linear[i];
    std::vector<double> y(static_cast<std::size_t>(linear.weight.rows()));
    for (Index r = 0; r < linear.weight.rows(); ++r) {
      double sum = linear.bias(r);
      for (Index c = 0; c < linear.weight.cols(); ++c) {
        sum += linear.weight(r, c) * h[static_cast<std::size_t>(c)];
      }
      y[static_cast<std::size_t>(r)] = sum;
    }
    if (i + 1 < weights.linear.size()) {
      for (double& value : y) {
        value = reference_activation(weights.config.activation, value);
      }
      if (weights.config.layer_norm) {
        const auto n = static_cast<double>(y.size());
        double mean = 0.0;
        for (double value : y) mean += value;
        mean /= n;
        double var = 0.0;
        for (double value : y) var += (value - mean) * (value - mean);
        var /= n;
        const double inv_std = 1.0 / std::sqrt(var + weights.config.layer_norm_eps);
        for (std::size_t c = 0; c < y.size(); ++c) {
          y[c] = (y[c] - mean) * inv_std * weights.norm[i].gamma(static_cast<Index>(c)) +
                 weights.norm[i].beta(static_cast<Index>(c));
        }
      }
    }
    h = std::move(y);
  }
  return h;
}

inline std::vector<double> row_of(const Matrix<double>& matrix, Index row) {
  return std::vector<double>(matrix.row(row).data(), matrix.row(row).data() + matrix.cols());
}

// Net S of the ATLAS METNet test network: 77 -> 10 x 128 -> 2.
inline MlpConfig net_s_config() {
  MlpConfig config;
  config.inputs = 77;
  config.width = 128;
  config.hidden_layers = 10;
  config.outputs = 2;
  return config;
}

}  // namespace metnet::test
