// SPDX-License-Identifier: MIT
#pragma once
// Tape nodes for the elementwise activations, with their derivatives:
//   relu(x) = max(x, 0)          relu'(x) = 1 if x > 0 else 0 (0 at x = 0, as PyTorch)
//   silu(x) = x sigmoid(x)       silu'(x) = s (1 + x (1 - s)), s = sigmoid(x)
//   tanh(x)                      tanh'(x) = 1 - tanh(x)^2
// SiLU keeps sigmoid(x) from the forward pass for its backward pass. All
// values and derivatives are finite for every finite input; see
// activation_kernels.hpp for how exp overflow is avoided.

#include <algorithm>

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

  // Rows are split between the tape's threads and, within a thread, handled
  // chunk_rows at a time, so that they stay in L1. Chunks start at multiples
  // of chunk_rows whatever the thread count. This matters because
  // sigmoid_into computes a chunk's values after its last whole packet with
  // std::exp, not Eigen's vectorised exp, so equal results need equal chunks.
  void forward() override {
    const Matrix<T>& x = x_->value();
    Matrix<T>& y = this->value();
    sigmoid_.resize(x.rows(), x.cols());
    y.resize(x.rows(), x.cols());
    this->for_ranges(x.rows(), chunk_rows, [&](Index begin, Index end) {
      for (Index row = begin; row < end; row += chunk_rows) {
        const Index count = std::min<Index>(chunk_rows, end - row);
        const auto x_rows = x.middleRows(row, count).array();
        auto s = sigmoid_.middleRows(row, count).array();
        sigmoid_into(x.data() + row * x.cols(), sigmoid_.data() + row * x.cols(), count * x.cols());
        y.middleRows(row, count).array() = x_rows * s;
      }
    });
  }

  void backward() override {
    if (!x_->requires_grad()) {
      return;
    }
    const Matrix<T>& x = x_->value();
    const Matrix<T>& dy = this->grad();
    const bool accumulate = x_->has_grad();
    Matrix<T>& dx = x_->start_grad(x.rows(), x.cols());
    this->for_ranges(x.rows(), chunk_rows, [&](Index begin, Index end) {
      for (Index row = begin; row < end; row += chunk_rows) {
        const Index count = std::min<Index>(chunk_rows, end - row);
        const auto derivative = dy.middleRows(row, count).array() *
                                silu_derivative(x.middleRows(row, count).array(),
                                                sigmoid_.middleRows(row, count).array());
        if (accumulate) {
          dx.middleRows(row, count).array() += derivative;
        } else {
          dx.middleRows(row, count).array() = derivative;
        }
      }
    });
  }

 private:
  static constexpr Index chunk_rows = 8;

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
