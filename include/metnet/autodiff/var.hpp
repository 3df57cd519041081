// SPDX-License-Identifier: MIT
#pragma once
// A handle to one value recorded on a metnet::Tape: read its value and, after
// Tape::backward, the gradient of the root with respect to it.
//
// A Var is a non-owning pointer; it stays valid as long as its tape and is
// invalidated by Tape::clear. A default-constructed Var refers to nothing.

#include "metnet/autodiff/detail/node.hpp"
#include "metnet/core/types.hpp"

namespace metnet {

template <class T>
class Var {
 public:
  Var() = default;
  explicit Var(detail::Node<T>* node) noexcept : node_(node) {}

  bool valid() const noexcept { return node_ != nullptr; }
  const Matrix<T>& value() const noexcept { return node_->value(); }

  // dRoot/dvalue from the last backward pass. Empty or stale when no
  // gradient reached this value: check has_grad() first.
  const Matrix<T>& grad() const noexcept { return node_->grad(); }
  bool has_grad() const noexcept { return node_->has_grad(); }
  bool requires_grad() const noexcept { return node_->requires_grad(); }

  Index rows() const noexcept { return node_->value().rows(); }
  Index cols() const noexcept { return node_->value().cols(); }

  detail::Node<T>* node() const noexcept { return node_; }

  friend bool operator==(const Var&, const Var&) = default;

 private:
  detail::Node<T>* node_ = nullptr;
};

}  // namespace metnet
