// SPDX-License-Identifier: MIT
#pragma once
// Gradient buffers shared by the intermediate nodes of a tape, for tapes that
// do not keep intermediate gradients (Tape::set_keep_intermediate_grads).
//
// A node's gradient is complete when the backward pass reaches the node and
// is read only by that node's own backward rule, so after the rule has run
// the buffer can serve a node further down the graph. The pass takes a
// buffer when a node receives its first contribution and returns it after
// the node's rule. Buffers are handed out last in, first out. So the
// gradient a node writes usually lands in a buffer that the previous node
// has just read, still in cache. An MLP needs three buffers instead of two
// per layer. A training step of Net S (10 x 128, batch 1024) saves 18 of
// its 20 gradients of 512 KB. That is about 9 MB of the roughly 28 MB of
// values, gradients and optimiser state, estimated from the buffer sizes.
// A buffer is reused only for a gradient with the same number of values,
// which Eigen resizes without reallocating, so a replay with the same
// shapes allocates nothing.

#include <cstddef>
#include <memory>
#include <vector>

#include "metnet/core/types.hpp"

namespace metnet::detail {

template <class T>
class GradPool {
 public:
  // A rows x cols buffer, unset values: the most recently returned one with
  // rows * cols values, or a new one.
  Matrix<T>* take(Index rows, Index cols) {
    for (std::size_t i = free_.size(); i-- > 0;) {
      if (free_[i]->size() == rows * cols) {
        Matrix<T>* buffer = free_[i];
        free_.erase(free_.begin() + static_cast<std::ptrdiff_t>(i));
        buffer->resize(rows, cols);
        return buffer;
      }
    }
    // Room in free_ first: if that allocation throws, no buffer is left
    // counted but out of reach.
    free_.reserve(buffers_.size() + 1);
    buffers_.push_back(std::make_unique<Matrix<T>>(rows, cols));
    return buffers_.back().get();
  }

  // Hands back a buffer from take(); it may go to the next caller at once.
  void give_back(Matrix<T>* buffer) noexcept { free_.push_back(buffer); }

  // Buffers made so far, in use or free.
  std::size_t size() const noexcept { return buffers_.size(); }

 private:
  std::vector<std::unique_ptr<Matrix<T>>> buffers_;
  std::vector<Matrix<T>*> free_;  // capacity kept at buffers_.size(), so give_back does not allocate
};

}  // namespace metnet::detail
