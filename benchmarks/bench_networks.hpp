// SPDX-License-Identifier: MIT
#pragma once
// The two reference networks of the benchmarks with random weights, and the
// baseline they are measured against: a plain hand-written Eigen forward
// pass (matrix products, then bias, SiLU and LayerNorm as separate Eigen
// expressions), the way one would write it without metnet.
//
// Net S: 77 inputs -> 10 x [Linear(128), SiLU, LayerNorm(128)] -> Linear(2).
// Net L: 76 inputs -> 5 x [Linear(512), SiLU, LayerNorm(512)] -> Linear(2).

#include <cmath>
#include <string>
#include <vector>

#include <Eigen/Core>

#include "metnet/core/random.hpp"
#include "metnet/core/types.hpp"
#include "metnet/nn/mlp_weights.hpp"

namespace metnet::bench {

struct NetShape {
  std::string name;
  Index inputs;
  Index width;
  Index hidden_layers;
};

inline const NetShape net_s{"S", 77, 128, 10};
inline const NetShape net_l{"L", 76, 512, 5};

inline MlpWeights<float> random_weights(const NetShape& shape, std::uint64_t seed) {
  Rng rng(seed);
  MlpWeights<float> weights;
  weights.config.inputs = shape.inputs;
  weights.config.width = shape.width;
  weights.config.hidden_layers = shape.hidden_layers;
  weights.config.outputs = 2;
  for (Index i = 0; i <= shape.hidden_layers; ++i) {
    const Index in = i == 0 ? shape.inputs : shape.width;
    const Index out = i == shape.hidden_layers ? 2 : shape.width;
    LinearWeights<float> linear{Matrix<float>(out, in), RowVector<float>(out)};
    const double scale = 1.0 / std::sqrt(static_cast<double>(in));
    for (Index r = 0; r < out; ++r) {
      for (Index c = 0; c < in; ++c) {
        linear.weight(r, c) = static_cast<float>(rng.normal(0.0, scale));
      }
      linear.bias(r) = static_cast<float>(rng.normal(0.0, 0.1));
    }
    weights.linear.push_back(linear);
  }
  for (Index i = 0; i < shape.hidden_layers; ++i) {
    LayerNormWeights<float> norm{RowVector<float>(shape.width), RowVector<float>(shape.width)};
    for (Index c = 0; c < shape.width; ++c) {
      norm.gamma(c) = static_cast<float>(1.0 + rng.normal(0.0, 0.1));
      norm.beta(c) = static_cast<float>(rng.normal(0.0, 0.1));
    }
    weights.norm.push_back(norm);
  }
  return weights;
}

inline Matrix<float> random_inputs(Index rows, Index columns, std::uint64_t seed) {
  Rng rng(seed);
  Matrix<float> inputs(rows, columns);
  for (Index r = 0; r < rows; ++r) {
    for (Index c = 0; c < columns; ++c) {
      inputs(r, c) = static_cast<float>(rng.normal());
    }
  }
  return inputs;
}

// The baseline: Eigen::MatrixXf products and unfused element-wise steps.
class EigenBaselineMlp {
 public:
  explicit EigenBaselineMlp(const MlpWeights<float>& weights) : eps_(static_cast<float>(weights.config.layer_norm_eps)) {
    for (const auto& linear : weights.linear) {
      weight_.push_back(linear.weight);
      bias_.push_back(linear.bias.transpose());
    }
    for (const auto& norm : weights.norm) {
      gamma_.push_back(norm.gamma.transpose());
      beta_.push_back(norm.beta.transpose());
    }
  }

  Eigen::VectorXf predict(const Eigen::VectorXf& input) const {
    Eigen::VectorXf h = input;
    for (std::size_t i = 0; i < weight_.size(); ++i) {
      h = weight_[i] * h + bias_[i];
      if (i + 1 == weight_.size()) {
        break;
      }
      h = h.array() / (1.0f + (-h.array()).exp());
      const float mean = h.mean();
      const float var = (h.array() - mean).square().mean();
      h = ((h.array() - mean) / std::sqrt(var + eps_)) * gamma_[i].array() + beta_[i].array();
    }
    return h;
  }

  // One row per event.
  Eigen::MatrixXf predict(const Eigen::MatrixXf& input) const {
    Eigen::MatrixXf h = input;
    for (std::size_t i = 0; i < weight_.size(); ++i) {
      Eigen::MatrixXf z = h * weight_[i].transpose();
      z.rowwise() += bias_[i].transpose();
      if (i + 1 == weight_.size()) {
        return z;
      }
      z = z.array() / (1.0f + (-z.array()).exp());
      const Eigen::VectorXf mean = z.rowwise().mean();
      z.colwise() -= mean;
      const Eigen::ArrayXf inv_std = ((z.array().square().rowwise().mean()) + eps_).rsqrt();
      z = z.array().colwise() * inv_std;
      z = (z.array().rowwise() * gamma_[i].transpose().array()).rowwise() + beta_[i].transpose().array();
      h = std::move(z);
    }
    return h;
  }

 private:
  std::vector<Eigen::MatrixXf> weight_;
  std::vector<Eigen::VectorXf> bias_;
  std::vector<Eigen::VectorXf> gamma_;
  std::vector<Eigen::VectorXf> beta_;
  float eps_;
};

}  // namespace metnet::bench
