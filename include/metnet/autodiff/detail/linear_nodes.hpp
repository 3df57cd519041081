// SPDX-License-Identifier: MIT
#pragma once
// Tape nodes for the affine maps of a dense layer, as torch.nn.Linear
// computes them on a batch x with one row per event:
//   y = x W^T        (matmul_transposed; W is outputs x inputs)
//   y = x + b        (add_bias; b is a 1 x outputs row added to every row)
//   y = x W^T + b    (linear; the fused form the MLP uses)
// Backward, with dy = dL/dy:
//   dL/dx = dy W,  dL/dW = dy^T x,  dL/db = sum over rows of dy.
// The three products run on the packed kernel of gemm.hpp, split by rows of
// the result between the tape's threads, or, when the tape selects Eigen's
// products, through Eigen's GEMM with noalias() into the gradient or value
// buffer. Neither creates a temporary matrix after the first pass.

#include <algorithm>

#include "metnet/autodiff/detail/gemm.hpp"
#include "metnet/autodiff/detail/node.hpp"

namespace metnet::detail {

// Grows buffer to at least size values; never shrinks it, so that products
// of different sizes can share it without reallocating on every call.
template <class T>
void reserve_values(Vector<T>& buffer, Index size) {
  if (buffer.size() < size) {
    buffer.resize(size);
  }
}

// sums = the sum over rows of x, as a row, computed with columns split
// between the node's threads. Each column is summed in row order, so the
// result does not depend on the thread count.
template <class T>
void column_sums(const Node<T>& node, const Matrix<T>& x, Matrix<T>& sums) {
  const Index rows = x.rows();
  const Index cols = x.cols();
  sums.resize(1, cols);
  node.for_ranges(cols, packet_size<T>, [&](Index begin, Index end) {
    auto target = sums.row(0).segment(begin, end - begin);
    target.setZero();
    for (Index i = 0; i < rows; ++i) {
      target += x.row(i).segment(begin, end - begin);
    }
  });
}

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
    const Matrix<T>& x = x_->value();
    const Matrix<T>& weight = weight_->value();
    Matrix<T>& y = this->value();
    if (this->eigen_products()) {
      y.noalias() = x * weight.transpose();
      if (bias_ != nullptr) {
        y.rowwise() += bias_->value().row(0);
      }
      return;
    }
    y.resize(x.rows(), weight.rows());
    // B = W^T: B(k, j) = W(j, k).
    const StridedMatrix<T> weight_transposed{weight.data(), weight.cols(), weight.rows(), 1, weight.cols()};
    multiply(x.data(), x.cols(), false, x.rows(), weight_transposed, y,
             bias_ != nullptr ? GemmUpdate::add_bias : GemmUpdate::assign,
             bias_ != nullptr ? bias_->value().data() : nullptr);
  }

  void backward() override {
    const Matrix<T>& dy = this->grad();
    if (this->eigen_products()) {
      backward_eigen(dy);
      return;
    }
    const Matrix<T>& x = x_->value();
    const Matrix<T>& weight = weight_->value();
    if (x_->requires_grad()) {
      // dx = dy W, with B = W as stored.
      const bool accumulate = x_->has_grad();
      Matrix<T>& dx = x_->start_grad(x.rows(), x.cols());
      const StridedMatrix<T> b{weight.data(), weight.rows(), weight.cols(), weight.cols(), 1};
      multiply(dy.data(), dy.cols(), false, dy.rows(), b, dx, accumulate ? GemmUpdate::add : GemmUpdate::assign,
               nullptr);
    }
    if (weight_->requires_grad()) {
      // dW = dy^T x: A = dy read transposed, B = x as stored.
      const bool accumulate = weight_->has_grad();
      Matrix<T>& dweight = weight_->start_grad(weight.rows(), weight.cols());
      const StridedMatrix<T> b{x.data(), x.rows(), x.cols(), x.cols(), 1};
      multiply(dy.data(), dy.cols(), true, dy.cols(), b, dweight,
               accumulate ? GemmUpdate::add : GemmUpdate::assign, nullptr);
    }
    if (bias_ != nullptr && bias_->requires_grad()) {
      column_sums(*this, dy, bias_sums_);
      bias_->accumulate_grad(bias_sums_);
    }
  }

 private:
  void backward_eigen(const Matrix<T>& dy) {
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

  // c = A B (update as given), A being rows x b.rows with A(i, k) at
  // a[i * a_stride + k], or at a[k * a_stride + i] when a_transposed.
  // B is packed here, its column blocks split between the threads, then the
  // rows of c are split between the threads.
  void multiply(const T* a, Index a_stride, bool a_transposed, Index rows, const StridedMatrix<T>& b,
                Matrix<T>& c, GemmUpdate update, const T* bias) {
    reserve_values(panel_, packed_panel_size<T>(b.rows, b.cols));
    this->for_ranges(packed_block_count<T>(b.cols), 1,
                     [&](Index begin, Index end) { pack_panel_blocks(b, panel_.data(), begin, end); });
    GemmProblem<T> problem;
    problem.a = a;
    problem.a_stride = a_stride;
    problem.a_transposed = a_transposed;
    problem.panel = panel_.data();
    problem.c = c.data();
    problem.c_stride = c.cols();
    problem.bias = bias;
    problem.update = update;
    problem.rows = rows;
    problem.cols = b.cols;
    problem.depth = b.rows;
    this->for_ranges(rows, gemm_tile_rows, [&](Index begin, Index end) { gemm_rows(problem, begin, end); });
  }

  Node<T>* x_;
  Node<T>* weight_;
  Node<T>* bias_;
  Vector<T> panel_;      // B of the last product, packed
  Matrix<T> bias_sums_;  // dL/db of this pass
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
