// SPDX-License-Identifier: MIT
#pragma once
// Tape nodes for the elementwise activations, with their derivatives:
//   relu(x) = max(x, 0)          relu'(x) = 1 if x > 0 else 0 (0 at x = 0, as PyTorch)
//   silu(x) = x sigmoid(x)       silu'(x) = s (1 + x (1 - s)), s = sigmoid(x)
//   tanh(x)                      tanh'(x) = 1 - tanh(x)^2
// SiLU keeps sigmoid(x) from the forward pass for its backward pass. All
// values and derivatives are finite for every finite input; see
// activation_kernels.hpp for how exp overflow is avoided.

#include "metnet/autodiff/detail/activation_kernels.hpp"
#include "metnet/autodiff/detail/node.hpp"

namespace metnet::detail {

template <class T>
class ReluNode final : public Node<T> {
 public:
  ReluNode(const Tape<T>* owner, Node<T>* x) : Node<T>(owner), x_(x) {
    this->set_requires_grad(x->requires_grad());
  }

  void forward() override { this->value() = x_->value().cwiseMax(T(0)); }

  void backward() override {
    if (x_->requires_grad()) {
      x_->accumulate_grad((x_->value().array() > T(0)).select(this->grad().array(), T(0)).matrix());
    }
  }

 private:
  Node<T>* x_;
};

template <class T>
class SiluNode final : public Node<T> {
 public:
  SiluNode(const Tape<T>* owner, Node<T>* x) : Node<T>(owner), x_(x) {
    this->set_requires_grad(x->requires_grad());
  }

  void forward() override {
    compute_sigmoid(x_->value(), sigmoid_);
    this->value().resize(x_->value().rows(), x_->value().cols());
    this->value().array() = x_->value().array() * sigmoid_.array();
  }

  void backward() override {
    if (x_->requires_grad()) {
      x_->accumulate_grad(
          (this->grad().array() * silu_derivative(x_->value().array(), sigmoid_.array())).matrix());
    }
  }

 private:
  Node<T>* x_;
  Matrix<T> sigmoid_;
};

template <class T>
class TanhNode final : public Node<T> {
 public:
  TanhNode(const Tape<T>* owner, Node<T>* x) : Node<T>(owner), x_(x) {
    this->set_requires_grad(x->requires_grad());
  }

  void forward() override {
    this->value().resize(x_->value().rows(), x_->value().cols());
    this->value().array() = x_->value().array().tanh();
  }

  void backward() override {
    if (x_->requires_grad()) {
      const auto y = this->value().array();
      x_->accumulate_grad((this->grad().array() * (T(1) - y * y)).matrix());
    }
  }

 private:
  Node<T>* x_;
};

}  // namespace metnet::detail
