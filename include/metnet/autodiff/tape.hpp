// SPDX-License-Identifier: MIT
#pragma once
// Reverse-mode automatic differentiation over matrix-valued operations.
//
// A Tape records operations on batches (metnet::Matrix<T>, one row per
// event) as a static graph. Recording an operation computes its value at
// once. After Tape::set_value has given the inputs new values, forward()
// replays the whole graph. backward() propagates a gradient from a root to
// every value that requires one. Each node keeps its value, gradient and
// saved intermediates between calls, so replaying a graph with the same
// batch shape allocates no memory. A new batch size resizes the buffers once.
//
// Operations: x W^T (W stored outputs x inputs, as torch.nn.Linear),
// bias add, the fused linear layer, ReLU, SiLU, tanh, layer normalisation,
// SiLU and layer normalisation fused,
// elementwise add and scale, sum and mean, and a node that wraps any
// metnet::Loss. Their definitions and derivatives are written beside each
// node in autodiff/detail/. Not provided: higher derivatives, broadcasting
// beyond the bias row, and operations whose output shape depends on values.
//
// Gradients of parameters (Parameter<T>) accumulate across backward passes
// until Parameter::zero_grad, as in PyTorch. Gradients of every other node
// are overwritten by each backward pass. With
// set_keep_intermediate_grads(false), which Mlp uses, only inputs and
// parameters have a gradient after backward, as in PyTorch. The
// intermediate nodes then borrow their gradient buffers from a small shared
// pool during the pass (autodiff/detail/grad_pool.hpp), so the pass touches
// less memory and more of it is in cache.
//
// Threads: set_threads(n) splits the matrix products, SiLU and layer
// normalisation between n threads, by rows of each result, and sums over
// rows by columns. Every element is computed in the same order whatever n
// is, so values and gradients do not depend on the thread count. The other
// operations run on the calling thread. Idle threads poll for up to 100 us,
// yielding the core between checks, and then sleep.

#include <cstddef>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "metnet/autodiff/detail/activation_nodes.hpp"
#include "metnet/autodiff/detail/layer_norm_node.hpp"
#include "metnet/autodiff/detail/linear_nodes.hpp"
#include "metnet/autodiff/detail/loss_node.hpp"
#include "metnet/autodiff/detail/node.hpp"
#include "metnet/autodiff/detail/reduction_nodes.hpp"
#include "metnet/autodiff/detail/silu_layer_norm_node.hpp"
#include "metnet/autodiff/parameter.hpp"
#include "metnet/autodiff/var.hpp"
#include "metnet/core/error.hpp"
#include "metnet/core/types.hpp"
#include "metnet/loss/loss_concept.hpp"

namespace metnet {

template <class T>
class Tape {
 public:
  Tape() = default;
  Tape(const Tape&) = delete;
  Tape& operator=(const Tape&) = delete;
  // A moved-from tape runs on one thread until set_threads is called again.
  Tape(Tape&& other) noexcept
      : nodes_(std::move(other.nodes_)),
        execution_(std::move(other.execution_)),
        grad_pool_(std::move(other.grad_pool_)) {
    adopt_nodes();
  }
  Tape& operator=(Tape&& other) noexcept {
    nodes_ = std::move(other.nodes_);
    execution_ = std::move(other.execution_);
    grad_pool_ = std::move(other.grad_pool_);
    adopt_nodes();
    return *this;
  }
  ~Tape() = default;

  // --- Leaves -------------------------------------------------------------

  // An input of rows x cols zeros; give it values with set_value. Set
  // requires_grad to get dRoot/dinput from backward.
  Var<T> input(Index rows, Index cols, bool requires_grad = false) {
    auto& node = add_leaf(requires_grad);
    node.value().setZero(rows, cols);
    return Var<T>(&node);
  }

  // An input holding a copy of value.
  Var<T> input(ConstMatrixRef<T> value, bool requires_grad = false) {
    auto& node = add_leaf(requires_grad);
    node.value() = value;
    return Var<T>(&node);
  }

  // Copy value into an input leaf. The number of columns is fixed when the
  // input is recorded. The number of rows (the batch size) may change, but
  // then it must change alike for every input of the graph before forward().
  // value may alias any buffer of this tape, because it is copied first.
  void set_value(Var<T> input, ConstMatrixRef<T> value) {
    check_owned(input, "set_value");
    if (!input.node()->is_input()) {
      throw ConfigError("Tape::set_value: the Var is not an input leaf; only values made by Tape::input can be set");
    }
    if (value.cols() != input.cols()) {
      throw ShapeError("Tape::set_value: expected " + std::to_string(input.cols()) +
                       " columns, as when the input was recorded, found " + std::to_string(value.cols()));
    }
    input.node()->value() = value;
  }

  // A leaf that reads parameter.value and accumulates into parameter.grad.
  // The parameter must outlive the tape and keep its address.
  Var<T> parameter(Parameter<T>& parameter) {
    auto node = std::make_unique<detail::Node<T>>(this);
    node->bind_parameter(parameter);
    nodes_.push_back(std::move(node));
    return Var<T>(nodes_.back().get());
  }

  // --- Operations -----------------------------------------------------------

  // x W^T: x is n x in, weight is out x in, the result n x out.
  Var<T> matmul_transposed(Var<T> x, Var<T> weight) {
    check_owned(x, "matmul_transposed");
    check_owned(weight, "matmul_transposed");
    check_inner(x, weight, "matmul_transposed");
    return record<detail::LinearNode<T>>(x.node(), weight.node(), nullptr);
  }

  // x + bias, bias a 1 x cols row added to every row of x.
  Var<T> add_bias(Var<T> x, Var<T> bias) {
    check_owned(x, "add_bias");
    check_owned(bias, "add_bias");
    check_bias(bias, x.cols(), "add_bias");
    return record<detail::AddBiasNode<T>>(x.node(), bias.node());
  }

  // x W^T + bias, torch.nn.Linear on a batch.
  Var<T> linear(Var<T> x, Var<T> weight, Var<T> bias) {
    check_owned(x, "linear");
    check_owned(weight, "linear");
    check_owned(bias, "linear");
    check_inner(x, weight, "linear");
    check_bias(bias, weight.rows(), "linear");
    return record<detail::LinearNode<T>>(x.node(), weight.node(), bias.node());
  }

  Var<T> relu(Var<T> x) {
    check_owned(x, "relu");
    return record<detail::ReluNode<T>>(x.node());
  }

  Var<T> silu(Var<T> x) {
    check_owned(x, "silu");
    return record<detail::SiluNode<T>>(x.node());
  }

  Var<T> tanh(Var<T> x) {
    check_owned(x, "tanh");
    return record<detail::TanhNode<T>>(x.node());
  }

  // Layer normalisation of each row, with gamma and beta 1 x cols rows.
  // eps is added to the variance inside the square root, as in PyTorch
  // (default 1e-5; Keras uses 1e-3).
  Var<T> layer_norm(Var<T> x, Var<T> gamma, Var<T> beta, T eps = T(1e-5)) {
    check_owned(x, "layer_norm");
    check_owned(gamma, "layer_norm");
    check_owned(beta, "layer_norm");
    check_bias(gamma, x.cols(), "layer_norm gamma");
    check_bias(beta, x.cols(), "layer_norm beta");
    if (!(eps > T(0))) {
      throw ConfigError("Tape::layer_norm: eps must be positive, found " + std::to_string(eps) +
                        "; PyTorch's default is 1e-5");
    }
    return record<detail::LayerNormNode<T>>(x.node(), gamma.node(), beta.node(), eps);
  }

  // layer_norm(silu(x), gamma, beta, eps) as one operation, which stores the
  // mean and 1 / std of each row instead of three intermediate matrices. x
  // may have at most max_silu_layer_norm_width columns.
  static constexpr Index max_silu_layer_norm_width = detail::SiluLayerNormNode<T>::max_width;

  Var<T> silu_layer_norm(Var<T> x, Var<T> gamma, Var<T> beta, T eps = T(1e-5)) {
    check_owned(x, "silu_layer_norm");
    check_owned(gamma, "silu_layer_norm");
    check_owned(beta, "silu_layer_norm");
    check_bias(gamma, x.cols(), "silu_layer_norm gamma");
    check_bias(beta, x.cols(), "silu_layer_norm beta");
    if (x.cols() > max_silu_layer_norm_width) {
      throw ShapeError("Tape::silu_layer_norm: expected at most " + std::to_string(max_silu_layer_norm_width) +
                       " columns, found " + std::to_string(x.cols()) + "; use silu, then layer_norm");
    }
    if (!(eps > T(0))) {
      throw ConfigError("Tape::silu_layer_norm: eps must be positive, found " + std::to_string(eps) +
                        "; PyTorch's default is 1e-5");
    }
    return record<detail::SiluLayerNormNode<T>>(x.node(), gamma.node(), beta.node(), eps);
  }

  Var<T> add(Var<T> a, Var<T> b) {
    check_owned(a, "add");
    check_owned(b, "add");
    return record<detail::AddNode<T>>(a.node(), b.node());
  }

  Var<T> scale(Var<T> a, T factor) {
    check_owned(a, "scale");
    return record<detail::ScaleNode<T>>(a.node(), factor);
  }

  // The sum of all elements, as a 1 x 1 value.
  Var<T> sum(Var<T> a) {
    check_owned(a, "sum");
    return record<detail::ReduceNode<T>>(a.node(), detail::ReductionKind::sum);
  }

  // The mean of all elements, as a 1 x 1 value (0 for an empty matrix).
  Var<T> mean(Var<T> a) {
    check_owned(a, "mean");
    return record<detail::ReduceNode<T>>(a.node(), detail::ReductionKind::mean);
  }

  // loss(output, target) with unit weights, as a 1 x 1 value. The tape
  // stores a copy of loss.
  template <Loss L>
  Var<T> loss(Var<T> output, Var<T> target, const L& loss) {
    check_owned(output, "loss");
    check_owned(target, "loss");
    return record<detail::LossNode<T, L>>(output.node(), target.node(), nullptr, loss);
  }

  // loss(output, target) with per-event weights, an n x 1 input.
  template <Loss L>
  Var<T> loss(Var<T> output, Var<T> target, Var<T> weights, const L& loss) {
    check_owned(output, "loss");
    check_owned(target, "loss");
    check_owned(weights, "loss");
    if (weights.cols() != 1) {
      throw ShapeError("Tape::loss: weights must be an n x 1 input, found " + std::to_string(weights.rows()) +
                       "x" + std::to_string(weights.cols()));
    }
    return record<detail::LossNode<T, L>>(output.node(), target.node(), weights.node(), loss);
  }

  // --- Execution ----------------------------------------------------------

  // Run the passes on `threads` threads (1: the calling thread only).
  // Throws ConfigError for threads < 1.
  void set_threads(int threads) {
    if (threads < 1) {
      throw ConfigError("Tape::set_threads: expected at least 1 thread, found " + std::to_string(threads));
    }
    Execution& execution = ensure_execution();
    if (this->threads() == threads) {
      return;
    }
    execution.pool.reset();
    if (threads > 1) {
      execution.pool = std::make_unique<detail::ThreadPool>(threads);
    }
  }

  int threads() const noexcept {
    return execution_ != nullptr && execution_->pool != nullptr ? execution_->pool->threads() : 1;
  }

  // Calls body(begin, end) on ranges that cover [0, count), with boundaries
  // at multiples of grain, on the tape's threads, which makes the tape a
  // RangeRunner (metnet/core/range_runner.hpp). Not during a pass of this
  // tape, and the body must not throw.
  template <class Body>
  void for_ranges(Index count, Index grain, const Body& body) const {
    detail::run_ranges(execution_.get(), count, grain, body);
  }

  // Whether nodes other than inputs and parameters keep their gradient after
  // backward (the default), so that Var::grad() can read it. With false they
  // share a few buffers during the pass and Var::has_grad() is false for
  // them afterwards. Applies to the nodes recorded so far and later.
  void set_keep_intermediate_grads(bool keep) {
    if (keep == keep_intermediate_grads()) {
      return;
    }
    if (keep) {
      for (auto& node : nodes_) {
        node->set_grad_pool(nullptr);
      }
      grad_pool_.reset();
    } else {
      grad_pool_ = std::make_unique<detail::GradPool<T>>();
      for (auto& node : nodes_) {
        node->set_grad_pool(grad_pool_.get());
      }
    }
  }

  bool keep_intermediate_grads() const noexcept { return grad_pool_ == nullptr; }

  // Gradient buffers the intermediate nodes share, in use or free (0 when
  // they keep their own): the peak number of gradients alive at once in a
  // backward pass, about 3 for an MLP of any depth.
  std::size_t shared_grad_buffers() const noexcept { return grad_pool_ == nullptr ? 0 : grad_pool_->size(); }

  // Compute x W^T, dy W and dy^T x with Eigen's GEMM on one thread instead of
  // the packed kernel: the reference path for tests and benchmarks.
  void set_eigen_products(bool enabled) { ensure_execution().eigen_products = enabled; }

  // --- Passes -------------------------------------------------------------

  // Recompute every recorded operation in order from the current inputs.
  void forward() {
    for (auto& node : nodes_) {
      node->forward();
    }
  }

  // Propagate dRoot/dRoot = 1 from a 1 x 1 root.
  void backward(Var<T> root) {
    check_owned(root, "backward");
    if (root.rows() != 1 || root.cols() != 1) {
      throw ShapeError("Tape::backward: a root without an upstream gradient must be 1 x 1, found " +
                       std::to_string(root.rows()) + "x" + std::to_string(root.cols()) +
                       "; reduce it with sum or mean, or pass the upstream gradient");
    }
    seed_.setOnes(1, 1);
    backward(root, seed_);
  }

  // Propagate the upstream gradient dL/droot (the shape of root's value),
  // so that every node receives dL/dnode. upstream may alias any buffer of
  // this tape: it is copied before the pass.
  void backward(Var<T> root, ConstMatrixRef<T> upstream) {
    check_owned(root, "backward");
    if (upstream.rows() != root.rows() || upstream.cols() != root.cols()) {
      throw ShapeError("Tape::backward: upstream gradient must have the root's shape " + std::to_string(root.rows()) +
                       "x" + std::to_string(root.cols()) + ", found " + std::to_string(upstream.rows()) + "x" +
                       std::to_string(upstream.cols()));
    }
    seed_ = upstream;

    std::size_t root_index = nodes_.size();
    for (std::size_t i = nodes_.size(); i-- > 0;) {
      nodes_[i]->begin_backward();
      if (nodes_[i].get() == root.node()) {
        root_index = i;
      }
    }
    root.node()->accumulate_grad(seed_);

    for (std::size_t i = root_index + 1; i-- > 0;) {
      detail::Node<T>& node = *nodes_[i];
      if (node.has_grad() && node.requires_grad()) {
        node.backward();
      }
      // Nothing reads this gradient any more: a borrowed buffer can serve the next nodes.
      node.release_grad();
    }
  }

  // Drop every recorded node; all Vars of this tape become invalid. Shared
  // gradient buffers that nodes still hold after a pass that threw go back
  // to the pool first, so that the next graph reuses them.
  void clear() noexcept {
    for (auto& node : nodes_) {
      node->release_grad();
    }
    nodes_.clear();
  }

  std::size_t size() const noexcept { return nodes_.size(); }

 private:
  using Execution = detail::Execution;

  Execution& ensure_execution() {
    if (execution_ == nullptr) {
      execution_ = std::make_unique<Execution>();
      adopt_nodes();
    }
    return *execution_;
  }

  detail::Node<T>& add_leaf(bool requires_grad) {
    auto node = std::make_unique<detail::Node<T>>(this);
    node->set_requires_grad(requires_grad);
    node->mark_input();
    nodes_.push_back(std::move(node));
    return *nodes_.back();
  }

  template <class NodeType, class... Args>
  Var<T> record(Args&&... args) {
    auto node = std::make_unique<NodeType>(this, std::forward<Args>(args)...);
    node->set_execution(execution_.get());
    node->set_grad_pool(grad_pool_.get());
    node->forward();
    nodes_.push_back(std::move(node));
    return Var<T>(nodes_.back().get());
  }

  void adopt_nodes() noexcept {
    for (auto& node : nodes_) {
      node->set_owner(this);
      node->set_execution(execution_.get());
    }
  }

  void check_owned(Var<T> var, const char* operation) const {
    if (!var.valid() || var.node()->owner() != this) {
      throw ConfigError(std::string("Tape::") + operation +
                        ": the Var is empty or was recorded on another tape; record every operand on this tape");
    }
  }

  static void check_inner(Var<T> x, Var<T> weight, const char* operation) {
    if (x.cols() != weight.cols()) {
      throw ShapeError(std::string("Tape::") + operation + ": weight must have " + std::to_string(x.cols()) +
                       " columns (the inputs of x, W stored outputs x inputs), found " +
                       std::to_string(weight.rows()) + "x" + std::to_string(weight.cols()));
    }
  }

  static void check_bias(Var<T> row, Index cols, const char* operation) {
    if (row.rows() != 1 || row.cols() != cols) {
      throw ShapeError(std::string("Tape::") + operation + ": expected a 1x" + std::to_string(cols) +
                       " row, found " + std::to_string(row.rows()) + "x" + std::to_string(row.cols()));
    }
  }

  std::vector<std::unique_ptr<detail::Node<T>>> nodes_;
  std::unique_ptr<Execution> execution_ = std::make_unique<Execution>();
  Matrix<T> seed_;
  std::unique_ptr<detail::GradPool<T>> grad_pool_;  // null: intermediate nodes keep their gradients
};

}  // namespace metnet
