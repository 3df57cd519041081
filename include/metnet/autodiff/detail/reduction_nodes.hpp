// SPDX-License-Identifier: MIT
#pragma once
// Tape nodes for elementwise sums and scaling and for reductions to a 1 x 1
// value:
//   add(a, b) = a + b        dL/da = dL/db = dy
//   scale(a, c) = c a        dL/da = c dy
//   sum(a) = sum_ij a_ij     dL/da_ij = dy
//   mean(a) = sum(a) / N     dL/da_ij = dy / N, N the number of elements
// When the same node is both operands of add, its gradient receives both
// contributions (2 dy), because contributions are always accumulated.

#include <string>

#include "metnet/autodiff/detail/node.hpp"
#include "metnet/core/error.hpp"

namespace metnet::detail {

template <class T>
class AddNode final : public Node<T> {
 public:
  AddNode(const Tape<T>* owner, Node<T>* a, Node<T>* b) : Node<T>(owner), a_(a), b_(b) {
    this->set_requires_grad(a->requires_grad() || b->requires_grad());
  }

  void forward() override {
    const Matrix<T>& a = a_->value();
    const Matrix<T>& b = b_->value();
    if (a.rows() != b.rows() || a.cols() != b.cols()) {
      throw ShapeError("Tape::add: operands must have the same shape, found " + std::to_string(a.rows()) + "x" +
                       std::to_string(a.cols()) + " and " + std::to_string(b.rows()) + "x" +
                       std::to_string(b.cols()) + "; give every input of the graph the same number of rows");
    }
    this->value() = a + b;
  }

  void backward() override {
    if (a_->requires_grad()) {
      a_->accumulate_grad(this->grad());
    }
    if (b_->requires_grad()) {
      b_->accumulate_grad(this->grad());
    }
  }

 private:
  Node<T>* a_;
  Node<T>* b_;
};

template <class T>
class ScaleNode final : public Node<T> {
 public:
  ScaleNode(const Tape<T>* owner, Node<T>* a, T factor) : Node<T>(owner), a_(a), factor_(factor) {
    this->set_requires_grad(a->requires_grad());
  }

  void forward() override { this->value() = factor_ * a_->value(); }

  void backward() override {
    if (a_->requires_grad()) {
      a_->accumulate_grad(factor_ * this->grad());
    }
  }

 private:
  Node<T>* a_;
  T factor_;
};

enum class ReductionKind { sum, mean };

template <class T>
class ReduceNode final : public Node<T> {
 public:
  ReduceNode(const Tape<T>* owner, Node<T>* a, ReductionKind kind) : Node<T>(owner), a_(a), kind_(kind) {
    this->set_requires_grad(a->requires_grad());
  }

  void forward() override {
    const Matrix<T>& a = a_->value();
    T total = a.sum();
    if (kind_ == ReductionKind::mean && a.size() > 0) {
      total /= static_cast<T>(a.size());
    }
    this->value().resize(1, 1);
    this->value()(0, 0) = total;
  }

  void backward() override {
    if (!a_->requires_grad()) {
      return;
    }
    const Matrix<T>& a = a_->value();
    T dy = this->grad()(0, 0);
    if (kind_ == ReductionKind::mean && a.size() > 0) {
      dy /= static_cast<T>(a.size());
    }
    a_->accumulate_grad(Matrix<T>::Constant(a.rows(), a.cols(), dy));
  }

 private:
  Node<T>* a_;
  ReductionKind kind_;
};

}  // namespace metnet::detail
