// SPDX-License-Identifier: MIT
#pragma once
// Tape node that wraps a training loss (any type that satisfies
// metnet::Loss) as a 1 x 1 value of the network output.
//
// The forward pass calls loss.value_and_gradient, which also gives
// dloss/doutput. The backward pass multiplies that by the node's upstream
// gradient dL/dloss (the chain rule). So scaled or summed losses, including
// a loss scaled by zero, get the right parameter gradient. The target and the
// per-event weights are data: they receive no gradient.

#include <utility>

#include "metnet/autodiff/detail/node.hpp"

namespace metnet::detail {

template <class T, class L>
class LossNode final : public Node<T> {
 public:
  // weights may be null, which means unit weights.
  LossNode(const Tape<T>* owner, Node<T>* output, Node<T>* target, Node<T>* weights, L loss)
      : Node<T>(owner), output_(output), target_(target), weights_(weights), loss_(std::move(loss)) {
    this->set_requires_grad(output->requires_grad());
  }

  void forward() override {
    // The weights leaf stores an n x 1 matrix; the loss reads it as a vector.
    const T* weights_data = weights_ != nullptr ? weights_->value().data() : nullptr;
    const Index weights_size = weights_ != nullptr ? weights_->value().size() : 0;
    const Eigen::Map<const Vector<T>> weights(weights_data, weights_size);

    const T value = loss_.template value_and_gradient<T>(output_->value(), target_->value(), weights,
                                                         dloss_doutput_);
    this->value().resize(1, 1);
    this->value()(0, 0) = value;
  }

  void backward() override {
    if (output_->requires_grad()) {
      const T upstream = this->grad()(0, 0);
      output_->accumulate_grad(upstream * dloss_doutput_);
    }
  }

 private:
  Node<T>* output_;
  Node<T>* target_;
  Node<T>* weights_;
  L loss_;
  Matrix<T> dloss_doutput_;
};

}  // namespace metnet::detail
