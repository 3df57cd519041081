// SPDX-License-Identifier: MIT
// The fused SiLU + layer normalisation node against the two separate nodes
// and against central finite differences, on one and on several threads.

#include <catch2/catch.hpp>

#include "gradient_check.hpp"
#include "metnet/autodiff.hpp"
#include "metnet/core/random.hpp"

namespace {

using metnet::Index;
using metnet::Matrix;
using metnet::Parameter;
using metnet::Tape;
using metnet::Var;

template <class T>
Matrix<T> random_matrix(Index rows, Index cols, std::uint64_t seed, double scale = 1.0) {
  metnet::Rng rng(seed);
  Matrix<T> m(rows, cols);
  for (Index i = 0; i < m.size(); ++i) {
    m.data()[i] = static_cast<T>(scale * rng.normal());
  }
  return m;
}

template <class T>
Parameter<T> make_parameter(const char* name, const Matrix<T>& value) {
  Parameter<T> parameter{name, value, {}};
  parameter.zero_grad();
  return parameter;
}

struct FusedCase {
  Index rows;
  Index cols;
  int threads;
};

// Values, dL/dx, dL/dgamma and dL/dbeta of layer_norm(silu(x)), fused on
// `threads` threads and separate on one. The input also feeds a second
// operation (x * 0.5), so that the fused node adds to an existing gradient.
template <class T>
void check_fused_equals_separate(const FusedCase& shape, double tolerance) {
  const Matrix<T> x_value = random_matrix<T>(shape.rows, shape.cols, 31, 3.0);
  const Matrix<T> upstream = random_matrix<T>(shape.rows, shape.cols, 32);
  auto gamma_fused = make_parameter<T>("gamma", random_matrix<T>(1, shape.cols, 33));
  auto beta_fused = make_parameter<T>("beta", random_matrix<T>(1, shape.cols, 34));
  auto gamma_separate = make_parameter<T>("gamma", gamma_fused.value);
  auto beta_separate = make_parameter<T>("beta", beta_fused.value);

  Tape<T> fused_tape;
  fused_tape.set_threads(shape.threads);
  const Var<T> x_fused = fused_tape.input(x_value, true);
  const Var<T> y_fused = fused_tape.add(
      fused_tape.silu_layer_norm(x_fused, fused_tape.parameter(gamma_fused), fused_tape.parameter(beta_fused)),
      fused_tape.scale(x_fused, T(0.5)));
  fused_tape.backward(y_fused, upstream);

  Tape<T> separate_tape;
  const Var<T> x_separate = separate_tape.input(x_value, true);
  const Var<T> y_separate = separate_tape.add(
      separate_tape.layer_norm(separate_tape.silu(x_separate), separate_tape.parameter(gamma_separate),
                               separate_tape.parameter(beta_separate)),
      separate_tape.scale(x_separate, T(0.5)));
  separate_tape.backward(y_separate, upstream);

  INFO("rows " << shape.rows << ", cols " << shape.cols << ", threads " << shape.threads);
  CHECK((y_fused.value() - y_separate.value()).cwiseAbs().maxCoeff() <= tolerance);
  CHECK((x_fused.grad() - x_separate.grad()).cwiseAbs().maxCoeff() <= tolerance);
  // Sums over rows in another order: a rounding error per row.
  const double sum_tolerance = tolerance * static_cast<double>(shape.rows);
  CHECK((gamma_fused.grad - gamma_separate.grad).cwiseAbs().maxCoeff() <= sum_tolerance);
  CHECK((beta_fused.grad - beta_separate.grad).cwiseAbs().maxCoeff() <= sum_tolerance);
}

// Rows below, at and above one block of 32 rows; widths that are not
// multiples of a packet.
const FusedCase fused_cases[] = {{1, 1, 1}, {5, 7, 1}, {31, 70, 2}, {33, 17, 2}, {100, 128, 3}, {64, 1024, 2}};

}  // namespace

TEST_CASE("silu_layer_norm equals silu then layer_norm", "[autodiff][layernorm]") {
  for (const FusedCase& shape : fused_cases) {
    check_fused_equals_separate<double>(shape, 1e-12);
    check_fused_equals_separate<float>(shape, 1e-5);
  }
}

TEST_CASE("silu_layer_norm gradients match finite differences", "[autodiff][gradient][layernorm]") {
  Tape<double> tape;
  auto gamma = make_parameter<double>("gamma", random_matrix<double>(1, 6, 41));
  auto beta = make_parameter<double>("beta", random_matrix<double>(1, 6, 42));
  Matrix<double> x_value = random_matrix<double>(35, 6, 43, 3.0);
  x_value.row(1).array() += 50.0;  // a row with a large mean
  const Var<double> x = tape.input(x_value, true);
  const Var<double> y = tape.silu_layer_norm(x, tape.parameter(gamma), tape.parameter(beta), 1e-3);
  CHECK(metnet::test::max_gradient_error(tape, y, random_matrix<double>(35, 6, 44), {x}, {&gamma, &beta}) < 1e-6);
}

TEST_CASE("silu_layer_norm rejects wide rows", "[autodiff][layernorm]") {
  Tape<float> tape;
  const Index width = Tape<float>::max_silu_layer_norm_width + 1;
  const Var<float> x = tape.input(Matrix<float>::Zero(2, width), true);
  CHECK_THROWS_WITH(tape.silu_layer_norm(x, tape.input(Matrix<float>::Ones(1, width)),
                                         tape.input(Matrix<float>::Zero(1, width))),
                    Catch::Contains("expected at most 1024 columns, found 1025"));
}
