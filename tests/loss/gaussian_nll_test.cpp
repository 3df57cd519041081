// SPDX-License-Identifier: MIT
#include <cmath>
#include <stdexcept>

#include <catch2/catch.hpp>

#include "finite_difference.hpp"
#include "metnet/loss/gaussian_nll.hpp"

using Catch::Matchers::WithinAbs;
using metnet::GaussianNll;
using metnet::gaussian_nll;
using metnet::Matrix;
using metnet::NllConstant;
using metnet::Vector;

TEST_CASE("Gaussian NLL clamps the variance floor", "[loss][gnll]") {
  // Case GNLL-01: F.gaussian_nll_loss(mu, y, var=sigma^2, eps) of PyTorch
  // 1.13 in float64: a -6.907755278982137, b 0.6931471805599453 (adding eps
  // would give 0.8047), c 0.0, d 43.09224472101787 with dL/dsigma = 0.
  CHECK_THAT(gaussian_nll(0.0, 0.0, 0.0, 1e-6), WithinAbs(-6.907755278982137, 1e-9));
  CHECK_THAT(gaussian_nll(0.0, 0.0, 2.0, 1.0), WithinAbs(0.6931471805599453, 1e-9));
  CHECK_THAT(gaussian_nll(0.0, 0.0, 0.5, 1.0), WithinAbs(0.0, 1e-9));
  const auto d = metnet::gaussian_nll_with_gradient(0.0, 0.01, 0.0, 1e-6);
  CHECK_THAT(d.value, WithinAbs(43.09224472101787, 1e-9));
  CHECK_THAT(d.d_sigma, WithinAbs(0.0, 1e-9));
}

TEST_CASE("Gaussian NLL rejects a negative sigma", "[loss][gnll]") {
  // Case GNLL-01 e: PyTorch raises ValueError("var has negative entry").
  CHECK_THROWS_AS(gaussian_nll(0.0, 0.0, -1.0), std::invalid_argument);
  CHECK_THROWS_AS(gaussian_nll(0.0, 0.0, std::nan("")), std::invalid_argument);
  CHECK_THROWS_AS(gaussian_nll(0.0, 0.0, 1.0, 0.0), std::invalid_argument);
}

TEST_CASE("Gaussian NLL full constant adds log(2 pi)/2", "[loss][gnll]") {
  // Case GNLL-02: F.gaussian_nll_loss(1, 3, 4) = 1.1931471805599454 and with
  // full=True 2.112085713764618 (PyTorch 1.13, float64).
  CHECK_THAT(gaussian_nll(1.0, 3.0, 2.0), WithinAbs(1.1931471805599454, 1e-12));
  CHECK_THAT(gaussian_nll(1.0, 3.0, 2.0, 1e-6, NllConstant::included), WithinAbs(2.112085713764618, 1e-12));
}

TEST_CASE("Gaussian NLL batch loss uses softplus widths", "[loss][gnll]") {
  // Raw scale r = log(e^2 - 1) gives sigma = softplus(r) = 2, so each event
  // reproduces GNLL-02 per component: (1.1931471805599454 + log 2) / 2 for
  // event 0 (second component mu = y, sigma 2), 1.1931471805599454 for event 1.
  const double raw = std::log(std::exp(2.0) - 1.0);
  Matrix<double> output(2, 4);
  output << 1.0, raw, 5.0, raw, 1.0, raw, 1.0, raw;
  Matrix<double> target(2, 2);
  target << 3.0, 5.0, 3.0, 3.0;
  const double event_0 = (1.1931471805599454 + std::log(2.0)) / 2.0;
  const double event_1 = 1.1931471805599454;
  Vector<double> weights(2);
  weights << 0.5, 3.0;
  const GaussianNll loss{};
  CHECK_THAT(loss.value<double>(output, target, weights), WithinAbs((0.5 * event_0 + 3.0 * event_1) / 2.0, 1e-12));

  const auto prediction = loss.predict<double>(output);
  CHECK_THAT(prediction.sigma(1, 1), WithinAbs(2.0, 1e-12));
  CHECK_THAT(prediction.mean(0, 1), WithinAbs(5.0, 0.0));
}

TEST_CASE("Gaussian NLL stays finite for extreme raw scales", "[loss][gnll]") {
  for (const float raw : {-1e4F, -80.0F, 0.0F, 80.0F, 1e4F, 3e38F}) {
    Matrix<float> output(1, 2);
    output << 0.5F, raw;
    const Matrix<float> target = Matrix<float>::Constant(1, 1, 100.0F);
    Matrix<float> gradient;
    const float value = GaussianNll{}.value_and_gradient<float>(output, target, Vector<float>(), gradient);
    INFO("raw scale " << raw);
    CHECK(std::isfinite(value));
    CHECK(gradient.allFinite());
  }
}

TEST_CASE("Gaussian NLL gradient matches finite differences", "[loss][gnll][gradient]") {
  // Raw scales keep sigma above sqrt(eps), where the clamp is inactive.
  Matrix<double> output(3, 4);
  output << 0.3, -1.2, 1.5, 0.4, -0.7, 2.5, 0.1, -3.0, 2.0, 0.0, -1.1, 1.7;
  Matrix<double> target(3, 2);
  target << 0.5, 0.2, 1.4, -0.9, -0.3, 0.8;
  Vector<double> weights(3);
  weights << 1.0, 0.3, 2.2;
  for (const auto constant : {NllConstant::omitted, NllConstant::included}) {
    const GaussianNll loss{.eps = 1e-6, .constant = constant};
    Matrix<double> gradient;
    loss.value_and_gradient<double>(output, target, weights, gradient);
    const Matrix<double> numerical = metnet::test::numerical_gradient(loss, output, target, weights);
    CHECK(metnet::test::relative_error(gradient, numerical) < 1e-8);
  }
}
