// SPDX-License-Identifier: MIT
#pragma once
// Tape node for layer normalisation over the columns of each row, as
// torch.nn.functional.layer_norm(x, (d,), gamma, beta, eps) computes it:
//   mu      = (1/d) sum_j x_j
//   var     = (1/d) sum_j (x_j - mu)^2         biased, two passes
//   inv_std = 1 / sqrt(var + eps)
//   x_hat   = (x - mu) inv_std
//   y       = x_hat gamma + beta
// The variance is summed from the centred values, never as E[x^2] - E[x]^2,
// which cancels to zero or below in float when a row's mean is large
// compared with its spread (energies in GeV).
// Backward, per row, with g = dy gamma:
//   dL/dx     = inv_std (g - mean(g) - x_hat mean(g x_hat))
//   dL/dgamma = sum over rows of dy x_hat,  dL/dbeta = sum over rows of dy.

#include <cmath>

#include "metnet/autodiff/detail/node.hpp"

namespace metnet::detail {

template <class T>
class LayerNormNode final : public Node<T> {
 public:
  LayerNormNode(const Tape<T>* owner, Node<T>* x, Node<T>* gamma, Node<T>* beta, T eps)
      : Node<T>(owner), x_(x), gamma_(gamma), beta_(beta), eps_(eps) {
    this->set_requires_grad(x->requires_grad() || gamma->requires_grad() || beta->requires_grad());
  }

  void forward() override {
    const Matrix<T>& x = x_->value();
    const Index n = x.rows();
    const Index d = x.cols();
    const T inv_d = T(1) / static_cast<T>(d);
    x_hat_.resize(n, d);
    inv_std_.resize(n);
    Matrix<T>& y = this->value();
    y.resize(n, d);

    for (Index i = 0; i < n; ++i) {
      const T mu = x.row(i).sum() * inv_d;
      x_hat_.row(i).array() = x.row(i).array() - mu;

      const T var = x_hat_.row(i).squaredNorm() * inv_d;
      const T inv_std = T(1) / std::sqrt(var + eps_);
      inv_std_(i) = inv_std;
      x_hat_.row(i) *= inv_std;

      y.row(i).array() = x_hat_.row(i).array() * gamma_->value().row(0).array() + beta_->value().row(0).array();
    }
  }

  void backward() override {
    const Matrix<T>& dy = this->grad();
    if (gamma_->requires_grad()) {
      gamma_->accumulate_grad((dy.array() * x_hat_.array()).matrix().colwise().sum());
    }
    if (beta_->requires_grad()) {
      beta_->accumulate_grad(dy.colwise().sum());
    }
    if (!x_->requires_grad()) {
      return;
    }

    const Index n = dy.rows();
    const Index d = dy.cols();
    const T inv_d = T(1) / static_cast<T>(d);
    const bool accumulate = x_->has_grad();
    Matrix<T>& dx = x_->start_grad(n, d);
    g_.resize(1, d);

    for (Index i = 0; i < n; ++i) {
      g_.array() = dy.row(i).array() * gamma_->value().row(0).array();
      const T mean_g = g_.sum() * inv_d;
      const T mean_g_x_hat = g_.row(0).dot(x_hat_.row(i)) * inv_d;
      if (accumulate) {
        dx.row(i).array() += inv_std_(i) * (g_.row(0).array() - mean_g - x_hat_.row(i).array() * mean_g_x_hat);
      } else {
        dx.row(i).array() = inv_std_(i) * (g_.row(0).array() - mean_g - x_hat_.row(i).array() * mean_g_x_hat);
      }
    }
  }

 private:
  Node<T>* x_;
  Node<T>* gamma_;
  Node<T>* beta_;
  T eps_;
  Matrix<T> x_hat_;
  Vector<T> inv_std_;
  Matrix<T> g_;  // one row: dy gamma
};

}  // namespace metnet::detail
