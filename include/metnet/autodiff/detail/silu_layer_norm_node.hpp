// SPDX-License-Identifier: MIT
#pragma once
// Tape node for SiLU followed by layer normalisation, y = layer_norm(silu(h)),
// the block of every hidden layer of METNet. It computes what
// tape.layer_norm(tape.silu(h), gamma, beta, eps) computes (activation_nodes.hpp
// and layer_norm_node.hpp give the formulas) but keeps only the per-row mean
// and 1 / std between the passes. The backward pass recomputes sigmoid(h),
// silu(h) and x_hat row by row in L1, so a training step writes and reads
// back two matrices fewer per layer than the two separate nodes do.
// Rows are split between the tape's threads. The sums over rows for gamma
// and beta go through partial sums over fixed blocks of block_rows rows,
// added in block order, so the results do not depend on the thread count.
// Rows of at most max_width values only, because the row buffers are on the
// stack: Tape::silu_layer_norm checks this.

#include <algorithm>
#include <cmath>

#include "metnet/autodiff/detail/activation_kernels.hpp"
#include "metnet/autodiff/detail/node.hpp"

namespace metnet::detail {

template <class T>
class SiluLayerNormNode final : public Node<T> {
 public:
  static constexpr Index max_width = 1024;
  static constexpr Index block_rows = 32;

  SiluLayerNormNode(const Tape<T>* owner, Node<T>* h, Node<T>* gamma, Node<T>* beta, T eps)
      : Node<T>(owner), h_(h), gamma_(gamma), beta_(beta), eps_(eps) {
    this->set_requires_grad(h->requires_grad() || gamma->requires_grad() || beta->requires_grad());
  }

  void forward() override {
    const Index n = h_->value().rows();
    const Index d = h_->value().cols();
    mean_.resize(n);
    inv_std_.resize(n);
    this->value().resize(n, d);
    this->for_ranges(n, 1, [&](Index begin, Index end) { forward_rows(begin, end); });
  }

  void backward() override {
    const Index n = this->grad().rows();
    const Index d = this->grad().cols();
    const Index blocks = (n + block_rows - 1) / block_rows;
    const bool parameter_grads = gamma_->requires_grad() || beta_->requires_grad();
    if (parameter_grads) {
      gamma_partial_.resize(blocks, d);
      beta_partial_.resize(blocks, d);
    }
    const bool accumulate = h_->requires_grad() && h_->has_grad();
    Matrix<T>* dh = h_->requires_grad() ? &h_->start_grad(n, d) : nullptr;
    this->for_ranges(blocks, 1, [&](Index first_block, Index end_block) {
      for (Index block = first_block; block < end_block; ++block) {
        backward_block(block, dh, accumulate, parameter_grads);
      }
    });
    if (!parameter_grads) {
      return;
    }

    // Block sums in block order: the same additions on any thread count.
    gamma_sums_.resize(1, d);
    beta_sums_.resize(1, d);
    gamma_sums_.row(0) = gamma_partial_.row(0);
    beta_sums_.row(0) = beta_partial_.row(0);
    for (Index block = 1; block < blocks; ++block) {
      gamma_sums_.row(0) += gamma_partial_.row(block);
      beta_sums_.row(0) += beta_partial_.row(block);
    }
    if (gamma_->requires_grad()) {
      gamma_->accumulate_grad(gamma_sums_);
    }
    if (beta_->requires_grad()) {
      beta_->accumulate_grad(beta_sums_);
    }
  }

 private:
  using RowArray = Eigen::Array<T, 1, Eigen::Dynamic>;
  using RowMap = Eigen::Map<RowArray>;
  using ConstRowMap = Eigen::Map<const RowArray>;

  // silu(h) of row i into `activation` and sigmoid(h) into `sigmoid`.
  void silu_row(Index i, T* activation, T* sigmoid) const {
    const Index d = h_->value().cols();
    const ConstRowMap h(h_->value().data() + i * d, d);
    sigmoid_into(h.data(), sigmoid, d);
    RowMap(activation, d) = h * ConstRowMap(sigmoid, d);
  }

  void forward_rows(Index begin, Index end) {
    const Index d = h_->value().cols();
    const T inv_d = T(1) / static_cast<T>(d);
    const auto gamma = gamma_->value().row(0).array();
    const auto beta = beta_->value().row(0).array();
    alignas(64) T sigmoid[max_width];
    for (Index i = begin; i < end; ++i) {
      // y's row contains silu(h), then x_hat, then the output.
      T* y_row = this->value().data() + i * d;
      silu_row(i, y_row, sigmoid);
      RowMap y(y_row, d);
      const T mu = y.sum() * inv_d;
      y -= mu;
      const T var = y.square().sum() * inv_d;
      const T inv_std = T(1) / std::sqrt(var + eps_);
      mean_(i) = mu;
      inv_std_(i) = inv_std;
      y = y * inv_std * gamma + beta;
    }
  }

  // Rows of one block: dL/dh where requested, and the block's partial sums
  // of dy x_hat and dy.
  void backward_block(Index block, Matrix<T>* dh, bool accumulate, bool parameter_grads) {
    const Matrix<T>& dy = this->grad();
    const Index n = dy.rows();
    const Index d = dy.cols();
    const T inv_d = T(1) / static_cast<T>(d);
    const auto gamma = gamma_->value().row(0).array();
    alignas(64) T sigmoid_buffer[max_width];
    alignas(64) T x_hat_buffer[max_width];
    RowMap s(sigmoid_buffer, d);
    RowMap x_hat(x_hat_buffer, d);
    const Index begin = block * block_rows;
    const Index end = std::min(n, begin + block_rows);

    if (parameter_grads) {
      gamma_partial_.row(block).setZero();
      beta_partial_.row(block).setZero();
    }
    for (Index i = begin; i < end; ++i) {
      silu_row(i, x_hat_buffer, sigmoid_buffer);
      x_hat = (x_hat - mean_(i)) * inv_std_(i);

      const auto dy_row = dy.row(i).array();
      if (parameter_grads) {
        gamma_partial_.row(block).array() += dy_row * x_hat;
        beta_partial_.row(block).array() += dy_row;
      }
      if (dh == nullptr) {
        continue;
      }

      // Layer normalisation backward with g = dy gamma, then SiLU's derivative.
      const auto g = dy_row * gamma;
      const T mean_g = g.sum() * inv_d;
      const T mean_g_x_hat = (g * x_hat).sum() * inv_d;
      const ConstRowMap h(h_->value().data() + i * d, d);
      const auto dh_row =
          inv_std_(i) * (g - mean_g - x_hat * mean_g_x_hat) * silu_derivative(h, s);
      if (accumulate) {
        dh->row(i).array() += dh_row;
      } else {
        dh->row(i).array() = dh_row;
      }
    }
  }

  Node<T>* h_;
  Node<T>* gamma_;
  Node<T>* beta_;
  T eps_;
  Vector<T> mean_;     // per row, of silu(h)
  Vector<T> inv_std_;  // per row
  Matrix<T> gamma_partial_;  // per block of rows: sum of dy x_hat
  Matrix<T> beta_partial_;   // per block of rows: sum of dy
  Matrix<T> gamma_sums_;
  Matrix<T> beta_sums_;
};

}  // namespace metnet::detail
