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

#include <algorithm>
#include <cmath>

#include "metnet/autodiff/detail/node.hpp"
#include "metnet/inference/detail/kernels.hpp"

namespace metnet::detail {

template <class T>
class LayerNormNode final : public Node<T> {
 public:
  LayerNormNode(const Tape<T>* owner, Node<T>* x, Node<T>* gamma, Node<T>* beta, T eps)
      : Node<T>(owner), x_(x), gamma_(gamma), beta_(beta), eps_(eps) {
    this->set_requires_grad(x->requires_grad() || gamma->requires_grad() || beta->requires_grad());
  }

  // Rows are split between the tape's threads. The sums over rows for gamma
  // and beta are split by columns, and each column is summed in row order,
  // so the results do not depend on the thread count.
  void forward() override {
    const Matrix<T>& x = x_->value();
    const Index n = x.rows();
    const Index d = x.cols();
    x_hat_.resize(n, d);
    inv_std_.resize(n);
    Matrix<T>& y = this->value();
    y.resize(n, d);
    this->for_ranges(n, 1, [&](Index begin, Index end) { forward_rows(begin, end); });
  }

  void backward() override {
    const Matrix<T>& dy = this->grad();
    const Index n = dy.rows();
    const Index d = dy.cols();
    if (gamma_->requires_grad() || beta_->requires_grad()) {
      gamma_sums_.resize(1, d);
      beta_sums_.resize(1, d);
      this->for_ranges(d, packet_size<T>, [&](Index begin, Index end) { parameter_sums(begin, end); });
      if (gamma_->requires_grad()) {
        gamma_->accumulate_grad(gamma_sums_);
      }
      if (beta_->requires_grad()) {
        beta_->accumulate_grad(beta_sums_);
      }
    }
    if (!x_->requires_grad()) {
      return;
    }
    const bool accumulate = x_->has_grad();
    Matrix<T>& dx = x_->start_grad(n, d);
    this->for_ranges(n, 1, [&](Index begin, Index end) { input_grad_rows(dx, accumulate, begin, end); });
  }

 private:
  void forward_rows(Index begin, Index end) {
    const Matrix<T>& x = x_->value();
    Matrix<T>& y = this->value();
    const T inv_d = T(1) / static_cast<T>(x.cols());
    const auto gamma = gamma_->value().row(0).array();
    const auto beta = beta_->value().row(0).array();
    for (Index i = begin; i < end; ++i) {
      const T mu = x.row(i).sum() * inv_d;
      x_hat_.row(i).array() = x.row(i).array() - mu;

      const T var = x_hat_.row(i).squaredNorm() * inv_d;
      const T inv_std = T(1) / std::sqrt(var + eps_);
      inv_std_(i) = inv_std;
      x_hat_.row(i) *= inv_std;

      y.row(i).array() = x_hat_.row(i).array() * gamma + beta;
    }
  }

  // Columns [begin, end) of dL/dgamma and dL/dbeta of this pass; begin is a
  // multiple of the packet size. Whole packets go through explicit packet
  // operations and only the columns after the last whole packet of a row
  // through scalar code, so each column takes the same path, with or without
  // a fused multiply-add, whatever the split between threads.
  void parameter_sums(Index begin, Index end) {
    using P = Packet<T>;
    constexpr Index lanes = packet_size<T>;
    const Matrix<T>& dy = this->grad();
    T* gamma_sums = gamma_sums_.data();
    T* beta_sums = beta_sums_.data();
    const Index packed_end = begin + (end - begin) / lanes * lanes;
    std::fill(gamma_sums + begin, gamma_sums + end, T(0));
    std::fill(beta_sums + begin, beta_sums + end, T(0));
    for (Index i = 0; i < dy.rows(); ++i) {
      const T* dy_row = dy.data() + i * dy.cols();
      const T* x_hat_row = x_hat_.data() + i * x_hat_.cols();
      for (Index j = begin; j < packed_end; j += lanes) {
        const P dy_packet = Eigen::internal::ploadu<P>(dy_row + j);
        const P product = Eigen::internal::pmul(dy_packet, Eigen::internal::ploadu<P>(x_hat_row + j));
        Eigen::internal::pstoreu(gamma_sums + j, Eigen::internal::padd(Eigen::internal::ploadu<P>(gamma_sums + j), product));
        Eigen::internal::pstoreu(beta_sums + j, Eigen::internal::padd(Eigen::internal::ploadu<P>(beta_sums + j), dy_packet));
      }
      for (Index j = packed_end; j < end; ++j) {
        gamma_sums[j] += dy_row[j] * x_hat_row[j];
        beta_sums[j] += dy_row[j];
      }
    }
  }

  void input_grad_rows(Matrix<T>& dx, bool accumulate, Index begin, Index end) {
    const Matrix<T>& dy = this->grad();
    const T inv_d = T(1) / static_cast<T>(dy.cols());
    const auto gamma = gamma_->value().row(0).array();
    // g = dy gamma is an expression, evaluated three times from L1, so that
    // the threads need no scratch row.
    for (Index i = begin; i < end; ++i) {
      const auto g = dy.row(i).array() * gamma;
      const T mean_g = g.sum() * inv_d;
      const T mean_g_x_hat = (g * x_hat_.row(i).array()).sum() * inv_d;
      if (accumulate) {
        dx.row(i).array() += inv_std_(i) * (g - mean_g - x_hat_.row(i).array() * mean_g_x_hat);
      } else {
        dx.row(i).array() = inv_std_(i) * (g - mean_g - x_hat_.row(i).array() * mean_g_x_hat);
      }
    }
  }

  Node<T>* x_;
  Node<T>* gamma_;
  Node<T>* beta_;
  T eps_;
  Matrix<T> x_hat_;
  Vector<T> inv_std_;
  Matrix<T> gamma_sums_;  // dL/dgamma of this pass
  Matrix<T> beta_sums_;   // dL/dbeta of this pass
};

}  // namespace metnet::detail
