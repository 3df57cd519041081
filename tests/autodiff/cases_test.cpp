// SPDX-License-Identifier: MIT
// Reference cases for the tape: layer normalisation of rows with a large
// mean, activations at extreme inputs, aliased operands, and the chain rule
// through a loss node. Each expected value names the PyTorch call behind it.

#include <cmath>
#include <vector>

#include <catch2/catch.hpp>

#include "metnet/autodiff.hpp"
#include "test_huber.hpp"

namespace {

using metnet::Matrix;
using metnet::Tape;
using metnet::Var;

template <class T>
Matrix<T> row(const std::vector<double>& values) {
  Matrix<T> m(1, static_cast<metnet::Index>(values.size()));
  for (std::size_t i = 0; i < values.size(); ++i) {
    m(0, static_cast<metnet::Index>(i)) = static_cast<T>(values[i]);
  }
  return m;
}

// Extreme inputs of the activation case, and the values below from
// t.nn.functional.silu on float64 and its backward of y.sum() (torch 1.13).
const std::vector<double> activation_x = {-1000, -100, -20, -1, 0, 1, 20, 100, 1000};
const std::vector<double> silu_expected = {-0.0, -3.720075976020836e-42, -4.122307236380407e-08,
                                           -0.2689414213699951, 0.0, 0.7310585786300049,
                                           19.999999958776925, 100.0, 1000.0};
const std::vector<double> silu_derivative_expected = {-0.0, -3.682875216260627e-42, -3.9161918660646786e-08,
                                                      0.07232948812851325, 0.5, 0.9276705118714869,
                                                      1.0000000391619202, 1.0, 1.0};

// Compare with a relative tolerance where |expected| is above tiny and an
// absolute tolerance of tiny below it, where results may underflow.
void check_close(double found, double expected, double relative, double tiny) {
  REQUIRE(std::isfinite(found));
  if (std::abs(expected) > tiny) {
    CHECK_THAT(found, Catch::Matchers::WithinRel(expected, relative));
  } else {
    CHECK_THAT(found, Catch::Matchers::WithinAbs(expected, tiny));
  }
}

template <class T>
void check_layer_norm_large_mean(double tolerance) {
  Tape<T> tape;
  const Var<T> x = tape.input(row<T>({40000, 40001, 40002, 40003}));
  const Var<T> y = tape.layer_norm(x, tape.input(Matrix<T>::Ones(1, 4)), tape.input(Matrix<T>::Zero(1, 4)), T(1e-5));
  // t.nn.functional.layer_norm(t.tensor([x], dtype=t.float64), (4,), eps=1e-5), torch 1.13.
  const std::vector<double> expected = {-1.3416354199689269, -0.447211806656309, 0.447211806656309,
                                        1.3416354199689269};
  for (int j = 0; j < 4; ++j) {
    REQUIRE(std::isfinite(y.value()(0, j)));
    CHECK_THAT(static_cast<double>(y.value()(0, j)), Catch::Matchers::WithinAbs(expected[j], tolerance));
  }
}

template <class T>
void check_silu_extremes(double relative, double tiny) {
  Tape<T> tape;
  const Var<T> x = tape.input(row<T>(activation_x), true);
  const Var<T> y = tape.silu(x);
  tape.backward(y, Matrix<T>::Ones(1, 9));
  for (int j = 0; j < 9; ++j) {
    INFO("x = " << activation_x[j]);
    check_close(static_cast<double>(y.value()(0, j)), silu_expected[j], relative, tiny);
    check_close(static_cast<double>(x.grad()(0, j)), silu_derivative_expected[j], relative, tiny);
  }
}

template <class T>
void check_tanh_extremes() {
  Tape<T> tape;
  const Var<T> x = tape.input(row<T>({-1000, -100, -20, 20, 100, 1000}), true);
  const Var<T> y = tape.tanh(x);
  tape.backward(y, Matrix<T>::Ones(1, 6));
  // torch.tanh at these points gives -1, -1, -1, 1, 1, 1 and gradient 0 (torch 1.13, float32).
  const std::vector<double> expected = {-1, -1, -1, 1, 1, 1};
  for (int j = 0; j < 6; ++j) {
    CHECK(static_cast<double>(y.value()(0, j)) == expected[j]);
    CHECK(static_cast<double>(x.grad()(0, j)) == 0.0);
  }
}

}  // namespace

TEST_CASE("layer_norm of rows with a large mean is exact in double", "[autodiff][layernorm][LN-01]") {
  // 1e-9 absolute, the case's double tolerance.
  check_layer_norm_large_mean<double>(1e-9);
}

TEST_CASE("layer_norm of rows with a large mean is finite in float", "[autodiff][layernorm][LN-01]") {
  // 2e-3 absolute, the case's float tolerance: torch float32 itself is off by 9e-4.
  check_layer_norm_large_mean<float>(2e-3);
}

TEST_CASE("silu at extreme inputs is finite and exact in double", "[autodiff][activation][ACT-01]") {
  // The case's double tolerance: relative 1e-12, absolute 1e-300 for underflowing values.
  check_silu_extremes<double>(1e-12, 1e-300);
}

TEST_CASE("silu at extreme inputs is finite in float", "[autodiff][activation][ACT-01]") {
  // The case's float tolerance: relative 1e-6; values below 1e-30 may flush to zero.
  check_silu_extremes<float>(1e-6, 1e-30);
}

TEST_CASE("tanh at extreme inputs saturates with zero gradient", "[autodiff][activation][ACT-01]") {
  check_tanh_extremes<double>();
  check_tanh_extremes<float>();
}

TEST_CASE("matmul_transposed gives the product of unaliased operands", "[autodiff][aliasing][EIG-01]") {
  Tape<double> tape;
  Matrix<double> w(2, 2);
  w << 1, 2, 3, 4;
  const Var<double> weight = tape.input(w, true);
  const Var<double> x = tape.input(Matrix<double>::Ones(1, 2));

  // W x for x = (1, 1) is (3, 7), exactly.
  const Var<double> wx = tape.matmul_transposed(x, weight);
  CHECK(wx.value()(0, 0) == 3.0);
  CHECK(wx.value()(0, 1) == 7.0);

  // The same value as both operands: W W^T = [[5, 11], [11, 25]], and
  // d sum(W W^T) / dW = 2 ones(2, 2) W = [[8, 12], [8, 12]], exactly.
  const Var<double> wwt = tape.matmul_transposed(weight, weight);
  Matrix<double> expected(2, 2);
  expected << 5, 11, 11, 25;
  CHECK(wwt.value() == expected);
  tape.backward(wwt, Matrix<double>::Ones(2, 2));
  Matrix<double> expected_grad(2, 2);
  expected_grad << 8, 12, 8, 12;
  CHECK(weight.grad() == expected_grad);
}

TEST_CASE("set_value accepts a buffer of the same tape", "[autodiff][aliasing][EIG-01]") {
  Tape<double> tape;
  Matrix<double> w(2, 2);
  w << 1, 2, 3, 4;
  const Var<double> x = tape.input(Matrix<double>::Ones(1, 2));
  const Var<double> y = tape.matmul_transposed(x, tape.input(w));
  // Feed the output back as the input: x <- W x = (3, 7), then W x = (17, 37).
  tape.set_value(x, y.value());
  tape.forward();
  CHECK(y.value()(0, 0) == 17.0);
  CHECK(y.value()(0, 1) == 37.0);
}

TEST_CASE("loss node multiplies by the upstream gradient", "[autodiff][loss][HUB-03]") {
  // yhat = 0, y = 10, delta = 1.5: dHuber/dyhat = -1.5, so
  // d(3 Huber)/dyhat = -4.5 and d(0 Huber)/dyhat = 0 (torch.nn.functional.huber_loss
  // on float64 and backward, torch 1.13).
  for (const double factor : {3.0, 0.0, -2.0}) {
    Tape<double> tape;
    const Var<double> yhat = tape.input(Matrix<double>::Zero(1, 1), true);
    const Var<double> y = tape.input(Matrix<double>::Constant(1, 1, 10.0));
    const Var<double> loss = tape.loss(yhat, y, metnet::test::TestHuber{1.5});
    const Var<double> scaled = tape.scale(loss, factor);
    tape.backward(scaled);
    INFO("factor = " << factor);
    CHECK_THAT(yhat.grad()(0, 0), Catch::Matchers::WithinAbs(-1.5 * factor, 1e-12));
  }
}

TEST_CASE("loss node takes an upstream gradient passed to backward", "[autodiff][loss][HUB-03]") {
  Tape<double> tape;
  const Var<double> yhat = tape.input(Matrix<double>::Zero(1, 1), true);
  const Var<double> y = tape.input(Matrix<double>::Constant(1, 1, 10.0));
  const Var<double> loss = tape.loss(yhat, y, metnet::test::TestHuber{1.5});
  // Huber(0, 10) = 1.5 (10 - 0.75) = 13.875.
  CHECK_THAT(loss.value()(0, 0), Catch::Matchers::WithinAbs(13.875, 1e-12));
  tape.backward(loss, Matrix<double>::Constant(1, 1, 3.0));
  CHECK_THAT(yhat.grad()(0, 0), Catch::Matchers::WithinAbs(-4.5, 1e-12));

  // A sum of two copies of the loss doubles the gradient.
  const Var<double> doubled = tape.add(loss, loss);
  tape.backward(doubled);
  CHECK_THAT(yhat.grad()(0, 0), Catch::Matchers::WithinAbs(-3.0, 1e-12));
}
