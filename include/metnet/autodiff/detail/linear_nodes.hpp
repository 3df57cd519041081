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
// the result between the tape's threads (the backward products and dL/db in
// one call of the thread team), or, when the tape selects Eigen's
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

// target = the sum over rows of x in columns [begin, end) of a row. Each
// column is summed in row order, so the result does not depend on how the
// columns are split between threads.
template <class T>
void column_sums(const Matrix<T>& x, T* target, Index begin, Index end) {
  Eigen::Map<Eigen::Array<T, 1, Eigen::Dynamic>> sums(target + begin, end - begin);
  sums.setZero();
  for (Index i = 0; i < x.rows(); ++i) {
    sums += x.row(i).segment(begin, end - begin).array();
  }
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
    GemmProblem<T> products[2];
    int product_count = 0;
    if (x_->requires_grad()) {
      // dx = dy W, with B = W as stored.
      const bool accumulate = x_->has_grad();
      Matrix<T>& dx = x_->start_grad(x.rows(), x.cols());
      const StridedMatrix<T> b{weight.data(), weight.rows(), weight.cols(), weight.cols(), 1};
      products[product_count++] = prepare(dy.data(), dy.cols(), false, dy.rows(), b, dx,
                                          accumulate ? GemmUpdate::add : GemmUpdate::assign, nullptr, panel_);
    }
    if (weight_->requires_grad()) {
      // dW = dy^T x: A = dy read transposed, B = x as stored.
      const bool accumulate = weight_->has_grad();
      Matrix<T>& dweight = weight_->start_grad(weight.rows(), weight.cols());
      const StridedMatrix<T> b{x.data(), x.rows(), x.cols(), x.cols(), 1};
      products[product_count++] = prepare(dy.data(), dy.cols(), true, dy.cols(), b, dweight,
                                          accumulate ? GemmUpdate::add : GemmUpdate::assign, nullptr,
                                          weight_panel_);
    }
    const bool bias_grad = bias_ != nullptr && bias_->requires_grad();
    if (bias_grad) {
      bias_sums_.resize(1, dy.cols());
    }

    // The row ranges of both products and the column ranges of dL/db, as one
    // list of pieces for a single call of the thread team, which wakes the
    // threads once per backward pass instead of three times. No piece's
    // result depends on the piece boundaries.
    Index piece_rows[2] = {0, 0};
    Index piece_counts[3] = {0, 0, 0};
    for (int p = 0; p < product_count; ++p) {
      piece_rows[p] = round_up(std::max<Index>(1, (products[p].rows + pieces_per_part - 1) / pieces_per_part),
                               Index(gemm_tile_rows));
      piece_counts[p] = (products[p].rows + piece_rows[p] - 1) / piece_rows[p];
    }
    const Index sum_cols = bias_grad ? dy.cols() : 0;
    // At most two column pieces, because a narrow piece sums short segments of many rows.
    const Index piece_cols = round_up(std::max<Index>(1, (sum_cols + 1) / 2), packet_size<T>);
    piece_counts[2] = (sum_cols + piece_cols - 1) / piece_cols;
    const Index pieces = piece_counts[0] + piece_counts[1] + piece_counts[2];
    const auto run_pieces = [&](Index begin, Index end) {
      this->for_ranges(end - begin, 1, [&](Index first, Index last) {
        for (Index piece = begin + first; piece < begin + last; ++piece) {
          run_piece(piece, products, product_count, piece_rows, piece_counts, dy, piece_cols);
        }
      });
    };
    if (product_count == 2 && x_ == weight_) {
      // x x^T: both products update the same gradient, dW adding to dx, so
      // dx must be complete before dW starts.
      run_pieces(0, piece_counts[0]);
      run_pieces(piece_counts[0], pieces);
    } else {
      run_pieces(0, pieces);
    }
    if (bias_grad) {
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

  // Pieces per product in the backward pass, enough for the threads to
  // balance uneven progress.
  static constexpr Index pieces_per_part = 16;

  // Panels of up to this many values (Net S's 128 x 128 weights fill half)
  // are packed on the calling thread alone. Waking the other threads costs a
  // system call and a wait at the end, estimated to exceed such a copy.
  // NOTE: the crossover size was not measured.
  static constexpr Index serial_pack_size = Index(1) << 15;

  // The problem of c = A B (update as given), A being rows x b.rows with
  // A(i, k) at a[i * a_stride + k], or at a[k * a_stride + i] when
  // a_transposed. B is read in place when its layout allows, else packed
  // into `panel` here, a large B with its column blocks split between the
  // threads.
  GemmProblem<T> prepare(const T* a, Index a_stride, bool a_transposed, Index rows, const StridedMatrix<T>& b,
                         Matrix<T>& c, GemmUpdate update, const T* bias, Vector<T>& panel) const {
    GemmProblem<T> problem;
    if (readable_in_place(b)) {
      problem.panel = b.data;
      problem.panel_stride = b.row_stride;
    } else {
      const Index size = packed_panel_size<T>(b.rows, b.cols);
      reserve_values(panel, size);
      if (size <= serial_pack_size) {
        pack_panel(b, panel.data());
      } else {
        this->for_ranges(packed_block_count<T>(b.cols), 1,
                         [&](Index begin, Index end) { pack_panel_blocks(b, panel.data(), begin, end); });
      }
      problem.panel = panel.data();
    }
    problem.a = a;
    problem.a_stride = a_stride;
    problem.a_transposed = a_transposed;
    problem.c = c.data();
    problem.c_stride = c.cols();
    problem.bias = bias;
    problem.update = update;
    problem.rows = rows;
    problem.cols = b.cols;
    problem.depth = b.rows;
    return problem;
  }

  // c = A B as prepare describes it, with the rows of c split between the threads.
  void multiply(const T* a, Index a_stride, bool a_transposed, Index rows, const StridedMatrix<T>& b,
                Matrix<T>& c, GemmUpdate update, const T* bias) {
    const GemmProblem<T> problem = prepare(a, a_stride, a_transposed, rows, b, c, update, bias, panel_);
    this->for_ranges(rows, gemm_tile_rows, [&](Index begin, Index end) { gemm_rows(problem, begin, end); });
  }

  // One piece of the backward pass: piece_counts[p] row ranges of
  // products[p] for each product, then piece_counts[2] column ranges of the
  // bias sums.
  void run_piece(Index piece, const GemmProblem<T>* products, int product_count, const Index* piece_rows,
                 const Index* piece_counts, const Matrix<T>& dy, Index piece_cols) {
    for (int p = 0; p < product_count; ++p) {
      if (piece < piece_counts[p]) {
        const Index begin = piece * piece_rows[p];
        gemm_rows(products[p], begin, std::min(products[p].rows, begin + piece_rows[p]));
        return;
      }
      piece -= piece_counts[p];
    }
    const Index begin = piece * piece_cols;
    column_sums(dy, bias_sums_.data(), begin, std::min(dy.cols(), begin + piece_cols));
  }

  Node<T>* x_;
  Node<T>* weight_;
  Node<T>* bias_;
  Vector<T> panel_;         // B of the last packed product, or of dx = dy W
  Vector<T> weight_panel_;  // B = x of dW = dy^T x when packed
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
