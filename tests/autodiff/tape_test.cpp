// SPDX-License-Identifier: MIT
// Gradient checks of every Tape operation in double precision against
// central finite differences, and the bookkeeping of the backward pass.

#include <catch2/catch.hpp>

#include "gradient_check.hpp"
#include "metnet/autodiff.hpp"
#include "metnet/core/random.hpp"
#include "test_huber.hpp"

namespace {

using metnet::Matrix;
using metnet::Parameter;
using metnet::Tape;
using metnet::Var;

// Tolerance of max_gradient_error: the central difference with
// h = cbrt(eps) is accurate to about 1e-10 for these smooth operations, so
// 1e-6 leaves a wide margin while still catching any wrong derivative term.
constexpr double gradient_tolerance = 1e-6;

Matrix<double> random_matrix(metnet::Index rows, metnet::Index cols, std::uint64_t seed, double scale = 1.0) {
  metnet::Rng rng(seed);
  Matrix<double> m(rows, cols);
  for (metnet::Index i = 0; i < m.size(); ++i) {
    m.data()[i] = scale * rng.normal();
  }
  return m;
}

// Values in [0.2, 2] in magnitude with random signs, away from ReLU's kink at 0.
Matrix<double> away_from_zero(metnet::Index rows, metnet::Index cols, std::uint64_t seed) {
  metnet::Rng rng(seed);
  Matrix<double> m(rows, cols);
  for (metnet::Index i = 0; i < m.size(); ++i) {
    const double magnitude = rng.uniform(0.2, 2.0);
    m.data()[i] = rng.uniform() < 0.5 ? -magnitude : magnitude;
  }
  return m;
}

Parameter<double> make_parameter(const char* name, Matrix<double> value) {
  Parameter<double> p{name, std::move(value), {}};
  p.zero_grad();
  return p;
}

}  // namespace

TEST_CASE("matmul_transposed gradients match finite differences", "[autodiff][gradient]") {
  Tape<double> tape;
  auto weight = make_parameter("weight", random_matrix(4, 3, 1));
  const Var<double> x = tape.input(random_matrix(5, 3, 2), true);
  const Var<double> y = tape.matmul_transposed(x, tape.parameter(weight));
  REQUIRE(y.rows() == 5);
  REQUIRE(y.cols() == 4);
  CHECK(metnet::test::max_gradient_error(tape, y, random_matrix(5, 4, 3), {x}, {&weight}) < gradient_tolerance);
}

// x x^T: dx = dy x and dW = dy^T x both go to x's gradient, whose sum must
// be the same on any thread count. Threads take the dx pieces before the dW
// pieces, so a run rarely overlaps them even without the ordering in
// LinearNode::backward: this test may pass without it.
TEST_CASE("matmul_transposed of x with itself on threads", "[autodiff][threads]") {
  const Matrix<double> x_value = random_matrix(96, 32, 41);
  const Matrix<double> upstream = random_matrix(96, 96, 42);
  const Matrix<double> expected = (upstream + upstream.transpose()) * x_value;
  Matrix<double> one_thread;
  for (const int threads : {1, 2, 3}) {
    Tape<double> tape;
    tape.set_threads(threads);
    const Var<double> x = tape.input(x_value, true);
    const Var<double> y = tape.matmul_transposed(x, x);
    tape.backward(y, upstream);
    INFO("threads " << threads);
    CHECK((x.grad() - expected).cwiseAbs().maxCoeff() <= 1e-10);
    if (threads == 1) {
      one_thread = x.grad();
    } else {
      CHECK(x.grad() == one_thread);
    }
  }
}

TEST_CASE("add_bias gradients match finite differences", "[autodiff][gradient]") {
  Tape<double> tape;
  auto bias = make_parameter("bias", random_matrix(1, 3, 4));
  const Var<double> x = tape.input(random_matrix(5, 3, 5), true);
  const Var<double> y = tape.add_bias(x, tape.parameter(bias));
  CHECK(metnet::test::max_gradient_error(tape, y, random_matrix(5, 3, 6), {x}, {&bias}) < gradient_tolerance);
}

TEST_CASE("linear gradients match finite differences", "[autodiff][gradient]") {
  Tape<double> tape;
  auto weight = make_parameter("weight", random_matrix(4, 3, 7));
  auto bias = make_parameter("bias", random_matrix(1, 4, 8));
  const Var<double> x = tape.input(random_matrix(6, 3, 9), true);
  const Var<double> y = tape.linear(x, tape.parameter(weight), tape.parameter(bias));
  CHECK(metnet::test::max_gradient_error(tape, y, random_matrix(6, 4, 10), {x}, {&weight, &bias}) <
        gradient_tolerance);
}

TEST_CASE("relu gradients match finite differences", "[autodiff][gradient]") {
  Tape<double> tape;
  const Var<double> x = tape.input(away_from_zero(5, 4, 11), true);
  const Var<double> y = tape.relu(x);
  CHECK(metnet::test::max_gradient_error(tape, y, random_matrix(5, 4, 12), {x}, {}) < gradient_tolerance);
}

TEST_CASE("relu gradient at zero is zero as in PyTorch", "[autodiff][activation]") {
  Tape<double> tape;
  const Var<double> x = tape.input(Matrix<double>::Zero(1, 3), true);
  const Var<double> y = tape.relu(x);
  tape.backward(y, Matrix<double>::Ones(1, 3));
  // torch.relu(torch.zeros(3, requires_grad=True)).sum().backward() gives grad 0.
  CHECK(x.grad().cwiseAbs().maxCoeff() == 0.0);
}

TEST_CASE("silu gradients match finite differences", "[autodiff][gradient]") {
  Tape<double> tape;
  const Var<double> x = tape.input(random_matrix(5, 4, 13, 3.0), true);
  const Var<double> y = tape.silu(x);
  CHECK(metnet::test::max_gradient_error(tape, y, random_matrix(5, 4, 14), {x}, {}) < gradient_tolerance);
}

TEST_CASE("tanh gradients match finite differences", "[autodiff][gradient]") {
  Tape<double> tape;
  const Var<double> x = tape.input(random_matrix(5, 4, 15, 2.0), true);
  const Var<double> y = tape.tanh(x);
  CHECK(metnet::test::max_gradient_error(tape, y, random_matrix(5, 4, 16), {x}, {}) < gradient_tolerance);
}

TEST_CASE("layer_norm gradients match finite differences", "[autodiff][gradient][layernorm]") {
  Tape<double> tape;
  auto gamma = make_parameter("gamma", random_matrix(1, 6, 17));
  auto beta = make_parameter("beta", random_matrix(1, 6, 18));
  // Rows with a large mean and a small spread, as energies in GeV give.
  Matrix<double> x_value = random_matrix(4, 6, 19);
  x_value.row(1).array() += 100.0;
  const Var<double> x = tape.input(x_value, true);
  const Var<double> y = tape.layer_norm(x, tape.parameter(gamma), tape.parameter(beta), 1e-3);
  CHECK(metnet::test::max_gradient_error(tape, y, random_matrix(4, 6, 20), {x}, {&gamma, &beta}) <
        gradient_tolerance);
}

TEST_CASE("sum and mean gradients match finite differences", "[autodiff][gradient]") {
  Tape<double> tape;
  const Var<double> x = tape.input(random_matrix(3, 4, 21), true);
  const Var<double> total = tape.sum(x);
  const Var<double> average = tape.mean(x);
  const Matrix<double> upstream = Matrix<double>::Constant(1, 1, 1.7);
  CHECK(metnet::test::max_gradient_error(tape, total, upstream, {x}, {}) < gradient_tolerance);
  CHECK(metnet::test::max_gradient_error(tape, average, upstream, {x}, {}) < gradient_tolerance);
  // d mean / dx = 1 / 12 exactly for 12 elements.
  tape.backward(average);
  CHECK_THAT(x.grad()(2, 3), Catch::Matchers::WithinRel(1.0 / 12.0, 1e-15));
}

TEST_CASE("add and scale gradients match finite differences", "[autodiff][gradient]") {
  Tape<double> tape;
  const Var<double> a = tape.input(random_matrix(3, 4, 22), true);
  const Var<double> b = tape.input(random_matrix(3, 4, 23), true);
  const Var<double> y = tape.add(tape.scale(a, -2.5), b);
  CHECK(metnet::test::max_gradient_error(tape, y, random_matrix(3, 4, 24), {a, b}, {}) < gradient_tolerance);
}

TEST_CASE("loss node gradients match finite differences", "[autodiff][gradient][loss]") {
  Tape<double> tape;
  // Residuals on both sides of delta = 1.5, so both branches of Huber are used.
  const Var<double> output = tape.input(random_matrix(6, 2, 25, 2.0), true);
  const Var<double> target = tape.input(random_matrix(6, 2, 26, 2.0));
  const Var<double> weights = tape.input(away_from_zero(6, 1, 27).cwiseAbs());
  const Var<double> loss = tape.loss(output, target, weights, metnet::test::TestHuber{});
  CHECK(metnet::test::max_gradient_error(tape, loss, Matrix<double>::Constant(1, 1, 0.7), {output}, {}) <
        gradient_tolerance);
}

TEST_CASE("two-layer network gradients match finite differences", "[autodiff][gradient]") {
  Tape<double> tape;
  auto w1 = make_parameter("w1", random_matrix(5, 4, 28, 0.5));
  auto b1 = make_parameter("b1", random_matrix(1, 5, 29));
  auto gamma = make_parameter("gamma", random_matrix(1, 5, 30));
  auto beta = make_parameter("beta", random_matrix(1, 5, 31));
  auto w2 = make_parameter("w2", random_matrix(2, 5, 32, 0.5));
  auto b2 = make_parameter("b2", random_matrix(1, 2, 33));
  const Var<double> x = tape.input(random_matrix(7, 4, 34), true);
  Var<double> h = tape.linear(x, tape.parameter(w1), tape.parameter(b1));
  h = tape.layer_norm(tape.silu(h), tape.parameter(gamma), tape.parameter(beta));
  const Var<double> y = tape.linear(tape.tanh(h), tape.parameter(w2), tape.parameter(b2));
  const Var<double> loss = tape.mean(y);
  CHECK(metnet::test::max_gradient_error(tape, loss, Matrix<double>::Ones(1, 1), {x},
                                         {&w1, &b1, &gamma, &beta, &w2, &b2}) < gradient_tolerance);
}

TEST_CASE("value used twice receives both gradient contributions", "[autodiff][accumulate]") {
  Tape<double> tape;
  const Var<double> x = tape.input(random_matrix(2, 3, 35), true);
  const Var<double> y = tape.add(x, x);
  tape.backward(y, Matrix<double>::Ones(2, 3));
  CHECK((x.grad().array() == 2.0).all());
  CHECK(metnet::test::max_gradient_error(tape, y, random_matrix(2, 3, 36), {x}, {}) < gradient_tolerance);
}

TEST_CASE("parameter gradients accumulate until zero_grad", "[autodiff][accumulate]") {
  Tape<double> tape;
  auto weight = make_parameter("weight", random_matrix(2, 3, 37));
  const Var<double> x = tape.input(random_matrix(4, 3, 38));
  const Var<double> loss = tape.sum(tape.matmul_transposed(x, tape.parameter(weight)));
  tape.backward(loss);
  const Matrix<double> once = weight.grad;
  tape.backward(loss);
  CHECK(weight.grad.isApprox(2.0 * once, 1e-15));
  weight.zero_grad();
  tape.backward(loss);
  CHECK(weight.grad.isApprox(once, 1e-15));
}

TEST_CASE("non-parameter gradients are replaced by each backward pass", "[autodiff][accumulate]") {
  Tape<double> tape;
  const Var<double> x = tape.input(random_matrix(2, 2, 39), true);
  const Var<double> loss = tape.sum(tape.scale(x, 3.0));
  tape.backward(loss);
  tape.backward(loss);
  CHECK((x.grad().array() == 3.0).all());
}

TEST_CASE("forward replays the graph with new input rows", "[autodiff][replay]") {
  Tape<double> tape;
  auto weight = make_parameter("weight", random_matrix(2, 3, 40));
  const Var<double> x = tape.input(random_matrix(4, 3, 41));
  const Var<double> y = tape.tanh(tape.matmul_transposed(x, tape.parameter(weight)));
  const Matrix<double> new_x = random_matrix(9, 3, 42);
  tape.set_value(x, new_x);
  tape.forward();
  const Matrix<double> expected = (new_x * weight.value.transpose()).array().tanh().matrix();
  REQUIRE(y.rows() == 9);
  CHECK(y.value().isApprox(expected, 1e-14));
}

TEST_CASE("tape rejects mismatched shapes and foreign values", "[autodiff][errors]") {
  Tape<double> tape;
  Tape<double> other;
  auto weight = make_parameter("weight", random_matrix(2, 3, 43));
  const Var<double> x = tape.input(random_matrix(4, 3, 44));
  const Var<double> w = tape.parameter(weight);
  const Var<double> foreign = other.input(random_matrix(4, 3, 45));
  CHECK_THROWS_AS(tape.matmul_transposed(tape.input(random_matrix(4, 2, 46)), w), metnet::ShapeError);
  CHECK_THROWS_AS(tape.add_bias(x, tape.input(random_matrix(1, 2, 47))), metnet::ShapeError);
  CHECK_THROWS_AS(tape.add(x, foreign), metnet::ConfigError);
  CHECK_THROWS_AS(tape.set_value(x, random_matrix(4, 2, 48)), metnet::ShapeError);
  CHECK_THROWS_AS(tape.set_value(w, random_matrix(2, 3, 49)), metnet::ConfigError);
  CHECK_THROWS_AS(tape.backward(x), metnet::ShapeError);
  CHECK_THROWS_AS(tape.layer_norm(x, tape.input(Matrix<double>::Ones(1, 3)), tape.input(Matrix<double>::Zero(1, 3)), 0.0),
                  metnet::ConfigError);
}

TEST_CASE("moved tape keeps its values usable", "[autodiff][replay]") {
  Tape<double> tape;
  const Var<double> x = tape.input(random_matrix(2, 2, 50), true);
  const Var<double> loss = tape.sum(x);
  Tape<double> moved(std::move(tape));
  moved.backward(loss);
  CHECK((x.grad().array() == 1.0).all());
  CHECK_NOTHROW(moved.set_value(x, random_matrix(2, 2, 51)));
}
