// SPDX-License-Identifier: MIT
#include <vector>

#include <catch2/catch.hpp>

#include "finite_difference.hpp"
#include "metnet/loss/huber.hpp"

using Catch::Matchers::WithinAbs;
using Catch::Matchers::WithinRel;
using metnet::Huber;
using metnet::Matrix;
using metnet::Vector;

namespace {

Matrix<double> column(const std::vector<double>& values) {
  Matrix<double> m(static_cast<metnet::Index>(values.size()), 1);
  for (std::size_t i = 0; i < values.size(); ++i) {
    m(static_cast<metnet::Index>(i), 0) = values[i];
  }
  return m;
}

}  // namespace

TEST_CASE("Huber matches PyTorch at delta 1.5, not SmoothL1", "[loss][huber]") {
  // Case HUB-01: F.huber_loss(e, 0, reduction='none', delta=1.5) of
  // PyTorch 1.13 in float64 gives {0, 0.5, 1.125, 13.875, 13.875}, mean 5.875;
  // F.smooth_l1_loss(e, 0, beta=1.5) gives {0, 0.333333, 0.75, 9.25, 9.25}.
  const Matrix<double> error = column({0.0, 1.0, 1.5, 10.0, -10.0});
  const Matrix<double> zero = Matrix<double>::Zero(5, 1);
  const std::vector<double> expected = {0.0, 0.5, 1.125, 13.875, 13.875};
  const std::vector<double> smooth_l1 = {0.0, 0.333333, 0.75, 9.25, 9.25};
  const Huber loss{};

  const Matrix<double> elementwise = loss.elementwise<double>(error, zero);
  for (int i = 0; i < 5; ++i) {
    CHECK_THAT(elementwise(i, 0), WithinAbs(expected[i], 1e-12));
    if (smooth_l1[i] != 0.0) {
      CHECK(std::abs(elementwise(i, 0) - smooth_l1[i]) > 0.1);
    }
  }
  CHECK_THAT(loss.value<double>(error, zero, Vector<double>()), WithinAbs(5.875, 1e-12));
}

TEST_CASE("Huber gradient follows the upstream weight", "[loss][huber]") {
  // Case HUB-03: d(3 * huber_loss(yhat=0, y=10, delta=1.5))/d yhat = -4.5 and
  // d(0 * huber_loss)/d yhat = 0 (PyTorch 1.13 autograd, float64). The
  // factor enters here as the per-event weight.
  const Matrix<double> output = column({0.0});
  const Matrix<double> target = column({10.0});
  const Huber loss{};
  Matrix<double> gradient;

  const double value_a = loss.value_and_gradient<double>(output, target, Vector<double>::Constant(1, 3.0), gradient);
  CHECK_THAT(gradient(0, 0), WithinAbs(-4.5, 1e-12));
  CHECK_THAT(value_a, WithinAbs(3.0 * 13.875, 1e-12));

  loss.value_and_gradient<double>(output, target, Vector<double>::Constant(1, 0.0), gradient);
  CHECK_THAT(gradient(0, 0), WithinAbs(0.0, 1e-12));
}

TEST_CASE("Huber batch loss weights events and averages components", "[loss][huber]") {
  // Hand computation at delta 1.5: event 0 errors (1, -2) give
  // (0.5 + 1.875) / 2 = 1.1875; event 1 errors (0, 3) give (0 + 3.375) / 2
  // = 1.6875. Weights (2, 0.5): mean = (2.375 + 0.84375) / 2, sum = 3.21875.
  Matrix<double> output(2, 2);
  output << 1.0, -2.0, 0.0, 3.0;
  const Matrix<double> target = Matrix<double>::Zero(2, 2);
  Vector<double> weights(2);
  weights << 2.0, 0.5;

  Huber mean_loss{};
  CHECK_THAT(mean_loss.value<double>(output, target, weights), WithinAbs(1.609375, 1e-12));
  CHECK_THAT(mean_loss.value<double>(output, target, Vector<double>()), WithinAbs(1.4375, 1e-12));

  Huber sum_loss{.delta = 1.5, .reduction = metnet::Reduction::sum};
  CHECK_THAT(sum_loss.value<double>(output, target, weights), WithinAbs(3.21875, 1e-12));
}

TEST_CASE("Huber delta 1 equals SmoothL1 with beta 1", "[loss][huber]") {
  // F.smooth_l1_loss(e, 0, beta=1.0, reduction='none') of PyTorch 1.13 for
  // e = (0.3, 2.5): 0.045 and 2.0; Huber with delta 1 must agree.
  const Huber loss{.delta = 1.0};
  const Matrix<double> values = loss.elementwise<double>(column({0.3, 2.5}), Matrix<double>::Zero(2, 1));
  CHECK_THAT(values(0, 0), WithinAbs(0.045, 1e-15));
  CHECK_THAT(values(1, 0), WithinAbs(2.0, 1e-15));
}

TEST_CASE("Huber gradient matches finite differences", "[loss][huber][gradient]") {
  // Errors chosen at least 0.1 away from the kinks at +-delta.
  Matrix<double> output(3, 2);
  output << 0.4, -2.7, 1.2, 0.05, -1.0, 4.0;
  Matrix<double> target(3, 2);
  target << -0.3, 0.2, 0.1, -1.0, 0.6, 0.0;
  Vector<double> weights(3);
  weights << 1.5, 0.2, 0.9;
  for (const auto reduction : {metnet::Reduction::mean, metnet::Reduction::sum}) {
    const Huber loss{.delta = 1.5, .reduction = reduction};
    Matrix<double> gradient;
    loss.value_and_gradient<double>(output, target, weights, gradient);
    const Matrix<double> numerical = metnet::test::numerical_gradient(loss, output, target, weights);
    CHECK(metnet::test::relative_error(gradient, numerical) < 1e-8);
  }
}

TEST_CASE("Huber rejects mismatched shapes and bad delta", "[loss][huber]") {
  const Huber loss{};
  const Matrix<double> output = Matrix<double>::Zero(3, 2);
  CHECK_THROWS_AS(loss.value<double>(output, Matrix<double>::Zero(3, 1), Vector<double>()), metnet::ShapeError);
  CHECK_THROWS_AS(loss.value<double>(output, Matrix<double>::Zero(3, 2), Vector<double>::Ones(2)),
                  metnet::ShapeError);
  const Huber bad{.delta = -1.0};
  CHECK_THROWS_AS(bad.value<double>(output, output, Vector<double>()), metnet::ConfigError);
}

TEST_CASE("Huber works in float", "[loss][huber]") {
  // Same numbers as the HUB-01 mean, in single precision.
  Matrix<float> error(5, 1);
  error << 0.0F, 1.0F, 1.5F, 10.0F, -10.0F;
  const Huber loss{};
  CHECK_THAT(loss.value<float>(error, Matrix<float>::Zero(5, 1), Vector<float>()), WithinRel(5.875F, 1e-6F));
}
