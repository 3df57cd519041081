// SPDX-License-Identifier: MIT
#pragma once
// A trainable parameter: its value and the gradient of the loss with respect
// to it, the unit that optimisers update.

#include <string>
#include <vector>

#include "metnet/core/types.hpp"

namespace metnet {

template <class T>
struct Parameter {
  std::string name;  // for messages and weights files, e.g. "linear.2.weight"
  Matrix<T> value;
  Matrix<T> grad;  // same shape as value; accumulated by backward, cleared by zero_grad

  void zero_grad() { grad.setZero(value.rows(), value.cols()); }
};

// Non-owning list of the parameters an optimiser updates. The owner (an Mlp,
// say) must outlive the list and must not reallocate its parameters.
template <class T>
using ParameterList = std::vector<Parameter<T>*>;

}  // namespace metnet
