// SPDX-License-Identifier: MIT
#pragma once
// The node of a metnet::Tape: a matrix value, the gradient of the tape's root
// with respect to it, and the forward and backward rules of one operation.
//
// Each node owns its buffers, so a graph that is replayed with the same batch
// shape reuses them and does not allocate. On a tape that does not keep
// intermediate gradients, an intermediate node borrows its gradient buffer
// from the tape's GradPool instead (grad_pool.hpp). Leaves (inputs, parameters) have
// no rules. A parameter leaf reads and accumulates into the Parameter<T> it
// wraps instead of owning buffers.

#include <memory>

#include "metnet/autodiff/detail/grad_pool.hpp"
#include "metnet/autodiff/detail/thread_pool.hpp"
#include "metnet/autodiff/parameter.hpp"
#include "metnet/core/types.hpp"

namespace metnet {

template <class T>
class Tape;

namespace detail {

// Execution settings of one tape, its thread pool and its kind of matrix
// product, owned by the tape and shared by its nodes.
struct Execution {
  std::unique_ptr<ThreadPool> pool;  // null: everything on the calling thread
  bool eigen_products = false;      // Eigen's GEMM, one thread, instead of the packed kernel of gemm.hpp
};

// Calls body(begin, end) on ranges that cover [0, count), with boundaries
// at multiples of grain, on the thread pool of `execution` (see
// ThreadPool::for_ranges), or body(0, count) here without one.
template <class Body>
void run_ranges(const Execution* execution, Index count, Index grain, const Body& body) {
  if (execution != nullptr && execution->pool != nullptr) {
    execution->pool->for_ranges(count, grain, body);
  } else if (count > 0) {
    body(Index(0), count);
  }
}

template <class T>
class Node {
 public:
  explicit Node(const Tape<T>* owner) noexcept : owner_(owner) {}
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;
  virtual ~Node() = default;

  // Recompute value() from the inputs' values.
  virtual void forward() {}

  // Add this node's gradient, propagated through its operation, to the
  // gradients of the inputs that require one.
  virtual void backward() {}

  const Matrix<T>& value() const noexcept { return *value_; }
  Matrix<T>& value() noexcept { return *value_; }
  const Matrix<T>& grad() const noexcept { return *grad_; }
  Matrix<T>& grad() noexcept { return *grad_; }

  const Tape<T>* owner() const noexcept { return owner_; }
  void set_owner(const Tape<T>* owner) noexcept { owner_ = owner; }
  bool requires_grad() const noexcept { return requires_grad_; }
  bool is_input() const noexcept { return is_input_; }
  bool has_grad() const noexcept { return has_grad_; }

  // Forget the gradient of the previous backward pass. A parameter keeps
  // accumulating into Parameter::grad, which only zero_grad clears.
  void begin_backward() {
    // A buffer still held after a pass that threw goes back first.
    release_grad();
    if (parameter_ != nullptr) {
      if (parameter_->grad.rows() != parameter_->value.rows() ||
          parameter_->grad.cols() != parameter_->value.cols()) {
        parameter_->zero_grad();
      }
      has_grad_ = true;
    } else {
      has_grad_ = false;
    }
  }

  // Set the gradient to expression on the first contribution of a backward
  // pass and add to it afterwards, so that no pass needs to zero the buffers.
  template <class Expression>
  void accumulate_grad(const Expression& expression) {
    if (!has_grad_) {
      take_grad_buffer(expression.rows(), expression.cols());
    }
    if (has_grad_) {
      *grad_ += expression;
    } else {
      *grad_ = expression;
      has_grad_ = true;
    }
  }

  // The same for a matrix product lhs * rhs, evaluated by Eigen's GEMM
  // straight into the gradient buffer. Neither factor may be this gradient.
  template <class Lhs, class Rhs>
  void accumulate_grad_product(const Lhs& lhs, const Rhs& rhs) {
    if (!has_grad_) {
      take_grad_buffer(lhs.rows(), rhs.cols());
    }
    if (has_grad_) {
      grad_->noalias() += lhs * rhs;
    } else {
      grad_->noalias() = lhs * rhs;
      has_grad_ = true;
    }
  }

  // Return the gradient buffer for a kernel that writes it row by row. The
  // caller adds to it if has_grad() was true before the call. Otherwise the
  // caller assigns every element, because the buffer is sized but not cleared.
  Matrix<T>& start_grad(Index rows, Index cols) {
    if (!has_grad_) {
      take_grad_buffer(rows, cols);
      grad_->resize(rows, cols);
      has_grad_ = true;
    }
    return *grad_;
  }

  // Calls body(begin, end) on ranges that cover [0, count), with boundaries
  // at multiples of grain, in parallel on the tape's threads (see
  // ThreadPool::for_ranges). Without a thread pool body(0, count) runs here.
  template <class Body>
  void for_ranges(Index count, Index grain, const Body& body) const {
    run_ranges(execution_, count, grain, body);
  }

  bool eigen_products() const noexcept { return execution_ != nullptr && execution_->eigen_products; }
  void set_execution(const Execution* execution) noexcept { execution_ = execution; }

  void set_requires_grad(bool requires_grad) noexcept { requires_grad_ = requires_grad; }
  void mark_input() noexcept { is_input_ = true; }

  // Sets the pool from which an intermediate node (neither an input nor a
  // parameter) borrows its gradient buffer in each backward pass, returning
  // it in release_grad. Without a pool the node keeps its own buffer.
  void set_grad_pool(GradPool<T>* pool) noexcept {
    release_grad();
    grad_pool_ = pool;
    if (pool != nullptr && parameter_ == nullptr && !is_input_) {
      // A gradient kept from an earlier pass would hold memory the pool saves.
      own_grad_.resize(0, 0);
      has_grad_ = false;
    }
  }

  // Returns a borrowed gradient buffer to the pool, after which has_grad()
  // is false. Nothing for a node that keeps its own.
  void release_grad() noexcept {
    if (borrowed_grad_ != nullptr) {
      grad_pool_->give_back(borrowed_grad_);
      borrowed_grad_ = nullptr;
      grad_ = &own_grad_;
      has_grad_ = false;
    }
  }

  void bind_parameter(Parameter<T>& parameter) noexcept {
    parameter_ = &parameter;
    value_ = &parameter.value;
    grad_ = &parameter.grad;
    requires_grad_ = true;
  }

 private:
  // Before the first contribution of a pass: borrow a buffer of this shape
  // when the node uses a pool.
  void take_grad_buffer(Index rows, Index cols) {
    if (grad_pool_ != nullptr && borrowed_grad_ == nullptr && parameter_ == nullptr && !is_input_) {
      borrowed_grad_ = grad_pool_->take(rows, cols);
      grad_ = borrowed_grad_;
    }
  }

  const Tape<T>* owner_;
  Matrix<T> own_value_;
  Matrix<T> own_grad_;
  Matrix<T>* value_ = &own_value_;
  Matrix<T>* grad_ = &own_grad_;
  Parameter<T>* parameter_ = nullptr;
  GradPool<T>* grad_pool_ = nullptr;    // set when the tape does not keep intermediate gradients
  Matrix<T>* borrowed_grad_ = nullptr;  // the buffer grad_ points at, borrowed from grad_pool_
  const Execution* execution_ = nullptr;
  bool requires_grad_ = false;
  bool is_input_ = false;
  bool has_grad_ = false;
};

}  // namespace detail
}  // namespace metnet
