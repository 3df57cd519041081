// SPDX-License-Identifier: MIT
// The packed matrix product of the training graph (autodiff/detail/gemm.hpp)
// against Eigen's product, in float and double, on shapes that are not
// multiples of the SIMD packet, the column block or the row tile.

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "metnet/autodiff/detail/gemm.hpp"
#include "metnet/core/random.hpp"

namespace {

using metnet::Index;
using metnet::Matrix;
using metnet::Vector;
using metnet::detail::GemmProblem;
using metnet::detail::GemmUpdate;

template <class T>
Matrix<T> random_matrix(Index rows, Index cols, std::uint64_t seed) {
  metnet::Rng rng(seed);
  Matrix<T> m(rows, cols);
  for (Index i = 0; i < m.size(); ++i) {
    m.data()[i] = static_cast<T>(rng.uniform(-1.0, 1.0));
  }
  return m;
}

struct Shape {
  Index rows;
  Index depth;
  Index cols;
};

// Odd sizes, sizes around one packet (4, 8 or 16 floats), around one column
// block (4 packets) and around the row tile (3 or 6 rows), an empty sum, a
// single row, and the sizes of the reference networks.
const std::vector<Shape> shapes = {
    {1, 1, 1},     {2, 3, 5},      {7, 13, 3},     {6, 16, 16},   {5, 17, 17},    {13, 31, 33},
    {37, 77, 53},  {19, 64, 65},   {12, 129, 127}, {64, 1, 130},  {3, 0, 9},      {1, 300, 2},
    {2, 1024, 77}, {1024, 2, 128}, {130, 77, 128}, {96, 128, 128}, {8, 512, 512},
};

// Absolute tolerance of one element: a sum of `depth` products of values in
// [-1, 1], with a typical size of sqrt(depth) and a rounding error of a few
// depth * eps times that, in either implementation. A wrong term or a
// missing one is off by far more.
template <class T>
double tolerance(Index depth) {
  const auto terms = static_cast<double>(depth + 1);
  return 2.0 * terms * std::sqrt(terms) * std::numeric_limits<T>::epsilon();
}

// C as the packed kernel computes it, with the row range split in `parts`
// pieces (as the tape's threads split it). With in_place, B is read where it
// is stored, which needs readable_in_place(B).
template <class T>
Matrix<T> packed_product(const Matrix<T>& a_stored, bool a_transposed, const Matrix<T>& b_stored, bool b_transposed,
                         const Matrix<T>& c_start, GemmUpdate update, const Matrix<T>& bias, Index parts,
                         bool in_place = false) {
  const Index rows = a_transposed ? a_stored.cols() : a_stored.rows();
  const Index depth = a_transposed ? a_stored.rows() : a_stored.cols();
  const Index cols = b_transposed ? b_stored.rows() : b_stored.cols();
  // b_transposed: B = b_stored^T, read with strided columns as for x W^T.
  const metnet::detail::StridedMatrix<T> b =
      b_transposed ? metnet::detail::StridedMatrix<T>{b_stored.data(), depth, cols, 1, b_stored.cols()}
                   : metnet::detail::StridedMatrix<T>{b_stored.data(), depth, cols, b_stored.cols(), 1};
  Vector<T> panel(std::max<Index>(1, metnet::detail::packed_panel_size<T>(depth, cols)));
  metnet::detail::pack_panel(b, panel.data());

  Matrix<T> c = c_start;
  GemmProblem<T> problem;
  problem.a = a_stored.data();
  problem.a_stride = a_stored.cols();
  problem.a_transposed = a_transposed;
  problem.panel = panel.data();
  if (in_place) {
    REQUIRE(metnet::detail::readable_in_place(b));
    problem.panel = b.data;
    problem.panel_stride = b.row_stride;
  }
  problem.c = c.data();
  problem.c_stride = cols;
  problem.bias = bias.data();
  problem.update = update;
  problem.rows = rows;
  problem.cols = cols;
  problem.depth = depth;
  const Index share = (rows + parts - 1) / parts;
  for (Index begin = 0; begin < rows; begin += share) {
    metnet::detail::gemm_rows(problem, begin, std::min(rows, begin + share));
  }
  return c;
}

template <class T>
void check_against_eigen() {
  std::uint64_t seed = 1;
  for (const Shape& shape : shapes) {
    for (const bool a_transposed : {false, true}) {
      for (const bool b_transposed : {false, true}) {
        for (const GemmUpdate update : {GemmUpdate::assign, GemmUpdate::add, GemmUpdate::add_bias}) {
          const Matrix<T> a = a_transposed ? random_matrix<T>(shape.depth, shape.rows, ++seed)
                                           : random_matrix<T>(shape.rows, shape.depth, ++seed);
          const Matrix<T> b = b_transposed ? random_matrix<T>(shape.cols, shape.depth, ++seed)
                                           : random_matrix<T>(shape.depth, shape.cols, ++seed);
          const Matrix<T> c_start = random_matrix<T>(shape.rows, shape.cols, ++seed);
          const Matrix<T> bias = random_matrix<T>(1, shape.cols, ++seed);

          Matrix<T> expected = Matrix<T>::Zero(shape.rows, shape.cols);
          if (shape.depth > 0) {
            const Matrix<T> a_used = a_transposed ? Matrix<T>(a.transpose()) : a;
            const Matrix<T> b_used = b_transposed ? Matrix<T>(b.transpose()) : b;
            expected.noalias() = a_used * b_used;
          }
          if (update == GemmUpdate::add) {
            expected += c_start;
          } else if (update == GemmUpdate::add_bias) {
            expected.rowwise() += bias.row(0);
          }

          const Matrix<T> whole = packed_product(a, a_transposed, b, b_transposed, c_start, update, bias, 1);
          INFO("rows " << shape.rows << ", depth " << shape.depth << ", cols " << shape.cols << ", A transposed "
                       << a_transposed << ", B transposed " << b_transposed << ", update "
                       << static_cast<int>(update));
          const double error = shape.rows * shape.cols == 0 ? 0.0 : (whole - expected).cwiseAbs().maxCoeff();
          CHECK(error <= tolerance<T>(shape.depth));

          // Rows split in 3 pieces, as threads split them: the same bits.
          const Matrix<T> split = packed_product(a, a_transposed, b, b_transposed, c_start, update, bias, 3);
          CHECK(split == whole);

          // B read in place where its rows allow it: the same bits as packed.
          if (!b_transposed && shape.cols % metnet::detail::packet_size<T> == 0) {
            const Matrix<T> in_place = packed_product(a, a_transposed, b, b_transposed, c_start, update, bias, 3, true);
            CHECK(in_place == whole);
          }
        }
      }
    }
  }
}

}  // namespace

TEST_CASE("packed product equals Eigen in float", "[autodiff][gemm]") { check_against_eigen<float>(); }

TEST_CASE("packed product equals Eigen in double", "[autodiff][gemm]") { check_against_eigen<double>(); }

TEST_CASE("packed panel pads columns with zeros", "[autodiff][gemm]") {
  constexpr Index lanes = metnet::detail::packet_size<float>;
  const Index depth = 3;
  const Index cols = lanes + 1;  // one whole packet and one column of the next
  const Matrix<float> b = random_matrix<float>(depth, cols, 7);
  const Index padded = 2 * lanes;
  REQUIRE(metnet::detail::packed_panel_size<float>(depth, cols) == depth * padded);
  std::vector<float> panel(static_cast<std::size_t>(depth * padded), -1.0F);
  metnet::detail::pack_panel<float>({b.data(), depth, cols, cols, 1}, panel.data());
  // Both packets fit in one column block, stored row after row.
  for (Index k = 0; k < depth; ++k) {
    for (Index j = 0; j < padded; ++j) {
      const float expected = j < cols ? b(k, j) : 0.0F;
      CHECK(panel[static_cast<std::size_t>(k * padded + j)] == expected);
    }
  }
}
