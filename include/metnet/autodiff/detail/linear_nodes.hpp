// SPDX-License-Identifier: MIT
#pragma once
// Tape nodes for the affine maps of a dense layer, as torch.nn.Linear
// computes them on a batch x with one row per event:
//   y = x W^T        (matmul_transposed; W is outputs x inputs)
//   y = x + b        (add_bias; b is a 1 x outputs row added to every row)
//   y = x W^T + b    (linear; the fused form the MLP uses)
// Backward, with dy = dL/dy:
//   dL/dx = dy W,  dL/dW = dy^T x,  dL/db = sum over rows of dy.
// All products go through Eigen's GEMM with noalias() into the gradient or
// value buffer, so no temporary matrix is created.

#include "metnet/autodiff/detail/node.hpp"

namespace metnet::detail {

template <class T>
class LinearNode final : public Node<T> {
 public:
  // bias may be null, which gives y = x W^T.
  LinearNode(const Tape<T>* owner, Node<T>* x, Node<T>* weight, Node<T>* bias)
      : Node<T>(owner), x_(x), weight_(weight), bias_(bias) {
    this->set_requires_grad(x->requires_grad() || weight->requires_grad() ||
                            (bias != nullptr && bias->requires_grad()));
  }

  void forward() override {
    Matrix<T>& y = this->value();
    y.noalias() = x_->value() * weight_->value().transpose();
    if (bias_ != nullptr) {
      y.rowwise() += bias_->value().row(0);
    }
  }

  void backward() override {
    const Matrix<T>& dy = this->grad();
    if (x_->requires_grad()) {
      x_->accumulate_grad_product(dy, weight_->value());
    }
    if (weight_->requires_grad()) {
      weight_->accumulate_grad_product(dy.transpose(), x_->value());
    }
    if (bias_ != nullptr && bias_->requires_grad()) {
      bias_->accumulate_grad(dy.colwise().sum());
    }
  }

 private:
  Node<T>* x_;
  Node<T>* weight_;
  Node<T>* bias_;
};

template <class T>
class AddBiasNode final : public Node<T> {
 public:
  AddBiasNode(const Tape<T>* owner, Node<T>* x, Node<T>* bias) : Node<T>(owner), x_(x), bias_(bias) {
    this->set_requires_grad(x->requires_grad() || bias->requires_grad());
  }

  void forward() override {
    Matrix<T>& y = this->value();
    y = x_->value();
    y.rowwise() += bias_->value().row(0);
  }

  void backward() override {
    const Matrix<T>& dy = this->grad();
    if (x_->requires_grad()) {
      x_->accumulate_grad(dy);
    }
    if (bias_->requires_grad()) {
      bias_->accumulate_grad(dy.colwise().sum());
    }
  }

 private:
  Node<T>* x_;
  Node<T>* bias_;
};

}  // namespace metnet::detail
