// SPDX-License-Identifier: MIT
#include <cmath>
#include <fstream>
#include <string>
#include <vector>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "finite_difference.hpp"
#include "metnet/core/random.hpp"
#include "metnet/loss/sinkhorn.hpp"
#include "metnet/loss/sum.hpp"
#include "metnet/model/loss_settings.hpp"

using Catch::Matchers::WithinAbs;
using Catch::Matchers::WithinRel;
using metnet::Matrix;
using metnet::Sinkhorn;
using metnet::Vector;

namespace {

template <class T = double>
Matrix<T> points(const std::vector<std::vector<double>>& rows) {
  Matrix<T> m(static_cast<metnet::Index>(rows.size()), rows.empty() ? 0 : static_cast<metnet::Index>(rows[0].size()));
  for (std::size_t i = 0; i < rows.size(); ++i) {
    for (std::size_t c = 0; c < rows[i].size(); ++c) {
      m(static_cast<metnet::Index>(i), static_cast<metnet::Index>(c)) = static_cast<T>(rows[i][c]);
    }
  }
  return m;
}

Vector<double> vector_from(const std::vector<double>& values) {
  Vector<double> v(static_cast<metnet::Index>(values.size()));
  for (std::size_t i = 0; i < values.size(); ++i) {
    v(static_cast<metnet::Index>(i)) = values[i];
  }
  return v;
}

// Tight settings for double-precision comparisons with references.
Sinkhorn precise(double epsilon) {
  return Sinkhorn{.epsilon = epsilon, .annealing_factor = 0.25, .max_iterations = 100000, .tolerance = 1e-12};
}

}  // namespace

TEST_CASE("Sinkhorn small epsilon stays finite and debiased", "[loss][sinkhorn]") {
  // Case SINK-01, log-domain reference Sinkhorn (sinkhorn_ref.py) in float64:
  // a: identical clouds give S = 0 and OT_eps = eps log 3 = 0.0010986122886681095.
  // b: the case lists OT_eps = 50.00068187962234 and S = 49.999988732441786,
  // but its plan has <P, C> = 49.99998875, below the transport minimum 50,
  // so that reference had not met the marginals (POT 0.8.2's sinkhorn_log
  // stalls the same way, with a column marginal off by 2.5e-6). The exact
  // value: the cross plan is diag(1/2) up to exp(-2/eps) = exp(-2000), so
  // OT_eps = 50 + eps log 2; the self terms are eps log 2 each (the other
  // point is at cost 1, weight exp(-1000)), so S = 50.
  const auto x = points({{0, 0}, {1, 0}, {0, 1}});
  const auto a = precise(1e-3).divergence<double>(x, Vector<double>(), x, Vector<double>());
  CHECK_THAT(a.divergence, WithinAbs(0.0, 1e-9));
  CHECK_THAT(a.ot_xy, WithinAbs(0.0010986122886681095, 1e-9));

  const auto b = precise(1e-3).divergence<double>(points({{0, 0}, {1, 0}}), Vector<double>(),
                                                  points({{5, 5}, {6, 5}}), Vector<double>());
  CHECK_THAT(b.ot_xy, WithinAbs(50.0 + 1e-3 * std::log(2.0), 1e-9));
  CHECK_THAT(b.divergence, WithinAbs(50.0, 1e-9));

  // The same in float, with the float tolerance of the case, abs 1e-5.
  const Sinkhorn single{.epsilon = 1e-3, .tolerance = 1e-4};
  const auto xf = points<float>({{0, 0}, {1, 0}, {0, 1}});
  CHECK_THAT(single.value<float>(xf, xf, Vector<float>()), WithinAbs(0.0F, 1e-5F));
  const auto bf = single.divergence<float>(points<float>({{0, 0}, {1, 0}}), Vector<float>(),
                                           points<float>({{5, 5}, {6, 5}}), Vector<float>());
  // Float resolves 50 to 4e-6, so the abs 1e-5 of the case is scaled by the value.
  CHECK_THAT(bf.divergence, WithinAbs(50.0F, 1e-5F * 50.0F));
}

TEST_CASE("Sinkhorn handles single and coincident points", "[loss][sinkhorn]") {
  // Case SINK-02 (sinkhorn_ref.py, float64): S((0,0),(3,4)) = 25 for eps 0.1
  // and 1e-3; S = 0 for identical single points and for all-equal clouds of
  // sizes 3 and 2 (zero diameter).
  for (const double eps : {0.1, 1e-3}) {
    INFO("epsilon " << eps);
    const Sinkhorn loss = precise(eps);
    CHECK_THAT(loss.divergence<double>(points({{0, 0}}), Vector<double>(), points({{3, 4}}), Vector<double>()).divergence,
               WithinAbs(25.0, 1e-12));
    CHECK_THAT(loss.divergence<double>(points({{1, 2}}), Vector<double>(), points({{1, 2}}), Vector<double>()).divergence,
               WithinAbs(0.0, 1e-12));
    const auto c = loss.divergence_and_gradient<double>(points({{1, 1}, {1, 1}, {1, 1}}), Vector<double>(),
                                                        points({{1, 1}, {1, 1}}), Vector<double>());
    CHECK_THAT(c.divergence, WithinAbs(0.0, 1e-12));
    CHECK(c.gradient.allFinite());
  }
}

TEST_CASE("Sinkhorn gradient is the envelope gradient", "[loss][sinkhorn][gradient]") {
  // Case SINK-05 (sinkhorn_ref.py grad_x_divergence, cross-checked with torch
  // autograd through 3000 log-domain iterations): a, identical clouds at
  // eps 1e-3 give a zero gradient; b gives S = 1.6232900185392343 and the
  // gradient below at eps 0.1.
  const auto x = points({{0, 0}, {1, 0}, {0, 1}});
  const auto a = precise(1e-3).divergence_and_gradient<double>(x, Vector<double>(), x, Vector<double>());
  CHECK(a.gradient.cwiseAbs().maxCoeff() < 1e-6);

  const auto b = precise(0.1).divergence_and_gradient<double>(points({{0, 0}, {2, 0}}), Vector<double>(),
                                                              points({{0, 1}, {1, 1}, {3, 1}}), Vector<double>());
  CHECK_THAT(b.divergence, WithinAbs(1.6232900185392343, 1e-9));
  const auto expected = points({{-0.3333333333326939, -0.9999999999993606}, {-0.333333333332694, -1.0000000000006395}});
  for (int i = 0; i < 2; ++i) {
    for (int c = 0; c < 2; ++c) {
      CHECK_THAT(b.gradient(i, c), WithinAbs(expected(i, c), 1e-6));
    }
  }
}

TEST_CASE("Sinkhorn matches POT at several epsilons", "[loss][sinkhorn]") {
  // Reference values from tests/loss/make_sinkhorn_fixture.py (POT 0.8.2,
  // ot.sinkhorn with method="sinkhorn_log", or POT's epsilon scaling for
  // the MET-like cases, marginals met to 1e-7).
  std::ifstream file(std::string(METNET_TEST_DATA_DIR) + "/loss/sinkhorn_fixture.json");
  REQUIRE(file.good());
  const auto fixture = nlohmann::json::parse(file);
  for (const auto& item : fixture.at("cases")) {
    INFO(item.at("name").get<std::string>());
    const auto x = points(item.at("x").get<std::vector<std::vector<double>>>());
    const auto y = points(item.at("y").get<std::vector<std::vector<double>>>());
    const auto x_weights = vector_from(item.at("x_weights").get<std::vector<double>>());
    const auto y_weights = vector_from(item.at("y_weights").get<std::vector<double>>());
    // The MET-like cases (256 points with long tails at eps 0.01) stop at
    // tolerance 1e-6, with the accelerated solver only: there the plain
    // solver needs 54000 iterations on the clustered case and more than
    // 100000 on the other. Below about 1e-8 the marginal error of the
    // accelerated solver stalls in double precision.
    // NOTE: the cause of that stall is not known.
    const bool long_tails = item.at("name").get<std::string>().rfind("MET-like", 0) == 0;
    for (const bool accelerated : {true, false}) {
      if (long_tails && !accelerated) {
        continue;
      }
      INFO("accelerated solver " << accelerated);
      Sinkhorn loss = precise(item.at("eps").get<double>());
      loss.accelerated = accelerated;
      if (long_tails) {
        loss.tolerance = 1e-6;
      }
      const auto result = loss.divergence_and_gradient<double>(x, x_weights, y, y_weights);
      CHECK(result.converged);
      // POT's plans meet the marginals to 1e-7, so the values agree to about
      // 1e-7 times the largest cost; 1e-6 relative leaves a margin.
      CHECK_THAT(result.divergence, WithinRel(item.at("divergence").get<double>(), 1e-6));
      CHECK_THAT(result.ot_xy, WithinRel(item.at("ot_xy").get<double>(), 1e-6));
      CHECK_THAT(result.ot_xx, WithinRel(item.at("ot_xx").get<double>(), 1e-6));
      CHECK_THAT(result.ot_yy, WithinRel(item.at("ot_yy").get<double>(), 1e-6));
      const auto gradient = points(item.at("gradient").get<std::vector<std::vector<double>>>());
      // The gradient is a difference of barycentres and converges more
      // slowly: 2.4e-6 on the trained MET-like case at tolerance 1e-6.
      CHECK(metnet::test::relative_error(result.gradient, gradient) < (long_tails ? 1e-5 : 1e-6));
    }
  }
}

TEST_CASE("Sinkhorn float on long-tailed clouds", "[loss][sinkhorn]") {
  // The training setting (float, default tolerance and iteration cap) on the
  // long-tailed fixture cases. On the clustered case the solver before the
  // starved-column update stopped at max_iterations with S = 0.0096 where
  // POT gives 1.05: the far targets were cut off from every prediction's
  // kernel row, and no Sinkhorn iteration on the stored kernel could reach
  // them.
  std::ifstream file(std::string(METNET_TEST_DATA_DIR) + "/loss/sinkhorn_fixture.json");
  REQUIRE(file.good());
  const auto fixture = nlohmann::json::parse(file);
  int cases = 0;
  for (const auto& item : fixture.at("cases")) {
    const auto name = item.at("name").get<std::string>();
    if (name.rfind("MET-like", 0) != 0) {
      continue;
    }
    ++cases;
    INFO(name);
    const auto x = points<float>(item.at("x").get<std::vector<std::vector<double>>>());
    const auto y = points<float>(item.at("y").get<std::vector<std::vector<double>>>());
    const Sinkhorn loss{.epsilon = item.at("eps").get<double>()};
    const auto result = loss.divergence_and_gradient<float>(x, Vector<float>(), y, Vector<float>());
    CHECK(result.converged);
    CHECK_THAT(result.divergence, WithinRel(item.at("divergence").get<float>(), 1e-3F));
    const auto gradient = points(item.at("gradient").get<std::vector<std::vector<double>>>());
    CHECK(metnet::test::relative_error(Matrix<double>(result.gradient.cast<double>()), gradient) < 2e-2);
  }
  CHECK(cases == 2);
}

TEST_CASE("Sinkhorn accelerated solver matches plain solver", "[loss][sinkhorn]") {
  // Both solvers stop when each plan's L1 marginal error is at most 1e-3, on
  // 1024 points per cloud at epsilon 0.01 in float (the benchmark setting,
  // another draw). On four such draws the plain solver's S was within 1.7e-5
  // relative of a double-precision run at tolerance 1e-9 and the accelerated
  // one's within 3e-6, and their gradients within 6.3e-3 and 2.5e-3 relative (the
  // gradient is a difference of barycentres, so it converges more slowly).
  // The bounds below are about three times those.
  metnet::Rng rng(99);
  Matrix<float> x(1024, 2);
  Matrix<float> y(1024, 2);
  for (metnet::Index i = 0; i < x.rows(); ++i) {
    for (int c = 0; c < 2; ++c) {
      x(i, c) = static_cast<float>(rng.normal());
      y(i, c) = static_cast<float>(rng.normal(0.3, 1.2));
    }
  }
  Sinkhorn plain{.epsilon = 0.01};
  plain.accelerated = false;
  const Sinkhorn accelerated{.epsilon = 0.01};
  const auto reference = plain.divergence_and_gradient<float>(x, Vector<float>(), y, Vector<float>());
  const auto fast = accelerated.divergence_and_gradient<float>(x, Vector<float>(), y, Vector<float>());
  REQUIRE(reference.converged);
  REQUIRE(fast.converged);
  CHECK(fast.iterations < reference.iterations);
  CHECK_THAT(fast.divergence, WithinRel(reference.divergence, 6e-5F));
  CHECK_THAT(fast.ot_xy, WithinRel(reference.ot_xy, 6e-5F));
  CHECK_THAT(fast.ot_xx, WithinRel(reference.ot_xx, 6e-5F));
  CHECK_THAT(fast.ot_yy, WithinRel(reference.ot_yy, 6e-5F));
  const Matrix<double> fast_gradient = fast.gradient.cast<double>();
  const Matrix<double> reference_gradient = reference.gradient.cast<double>();
  CHECK(metnet::test::relative_error(fast_gradient, reference_gradient) < 2e-2);
}

TEST_CASE("Sinkhorn gradient matches finite differences", "[loss][sinkhorn][gradient]") {
  metnet::Rng rng(7);
  Matrix<double> output(6, 2);
  Matrix<double> target(6, 2);
  for (int i = 0; i < 6; ++i) {
    for (int c = 0; c < 2; ++c) {
      output(i, c) = rng.normal();
      target(i, c) = rng.normal(0.4, 1.2);
    }
  }
  Vector<double> weights(6);
  weights << 1.0, 2.0, 0.5, 1.5, 1.0, 0.7;
  for (const bool weighted : {false, true}) {
    for (const double eps : {1.0, 0.1}) {
      INFO("epsilon " << eps << ", weighted marginals " << weighted);
      Sinkhorn loss = precise(eps);
      loss.weighted_marginals = weighted;
      Matrix<double> gradient;
      loss.value_and_gradient<double>(output, target, weights, gradient);
      const Matrix<double> numerical = metnet::test::numerical_gradient(loss, output, target, weights);
      CHECK(metnet::test::relative_error(gradient, numerical) < 1e-6);
    }
  }
  // Uniform marginals ignore the weights; weighted marginals depend on them.
  Sinkhorn uniform = precise(0.1);
  Sinkhorn weighted = precise(0.1);
  weighted.weighted_marginals = true;
  CHECK(uniform.value<double>(output, target, weights) == uniform.value<double>(output, target, Vector<double>()));
  CHECK(weighted.value<double>(output, target, weights) != uniform.value<double>(output, target, weights));
}

TEST_CASE("Huber plus Sinkhorn sums values and gradients", "[loss][sum][gradient]") {
  metnet::Rng rng(11);
  Matrix<double> output(5, 2);
  Matrix<double> target(5, 2);
  for (int i = 0; i < 5; ++i) {
    for (int c = 0; c < 2; ++c) {
      output(i, c) = rng.normal();
      target(i, c) = rng.normal();
    }
  }
  const metnet::HuberSinkhorn loss{.first = {}, .second = precise(0.5), .lambda = 0.3};
  Matrix<double> gradient;
  const double total = loss.value_and_gradient<double>(output, target, Vector<double>(), gradient);
  const double huber = metnet::Huber{}.value<double>(output, target, Vector<double>());
  const double sinkhorn = precise(0.5).value<double>(output, target, Vector<double>());
  CHECK_THAT(total, WithinRel(huber + 0.3 * sinkhorn, 1e-12));
  const Matrix<double> numerical = metnet::test::numerical_gradient(loss, output, target, Vector<double>());
  CHECK(metnet::test::relative_error(gradient, numerical) < 1e-6);
  CHECK(metnet::HuberSinkhorn::name() == "huber+sinkhorn");
}

TEST_CASE("Sinkhorn rejects invalid inputs", "[loss][sinkhorn]") {
  const Sinkhorn loss{};
  const auto x = points({{0, 0}, {1, 0}});
  CHECK_THROWS_AS(loss.divergence<double>(x, Vector<double>(), points({{0, 0, 0}}), Vector<double>()),
                  metnet::ShapeError);
  CHECK_THROWS_AS(loss.divergence<double>(x, vector_from({1.0, -1.0}), x, Vector<double>()), std::invalid_argument);
  CHECK_THROWS_AS(loss.divergence<double>(x, vector_from({0.0, 0.0}), x, Vector<double>()), std::invalid_argument);
  const Sinkhorn bad{.epsilon = 0.0};
  CHECK_THROWS_AS(bad.divergence<double>(x, Vector<double>(), x, Vector<double>()), metnet::ConfigError);
}

TEST_CASE("Sinkhorn compares leading columns only", "[loss][sinkhorn][gradient]") {
  metnet::Rng rng(23);
  Matrix<double> output(6, 2);
  Matrix<double> target(6, 2);
  for (int i = 0; i < 6; ++i) {
    for (int c = 0; c < 2; ++c) {
      output(i, c) = rng.normal();
      target(i, c) = rng.normal() + 0.5;
    }
  }
  Sinkhorn first_column = precise(0.5);
  first_column.compared_columns = 1;
  Matrix<double> gradient;
  const double value = first_column.value_and_gradient<double>(output, target, Vector<double>(), gradient);

  const Matrix<double> output_x = output.leftCols(1);
  const Matrix<double> target_x = target.leftCols(1);
  Matrix<double> gradient_x;
  const double value_x = precise(0.5).value_and_gradient<double>(output_x, target_x, Vector<double>(), gradient_x);
  CHECK_THAT(value, WithinRel(value_x, 1e-12));
  CHECK_THAT(first_column.value<double>(output, target, Vector<double>()), WithinRel(value_x, 1e-12));
  REQUIRE(gradient.rows() == 6);
  REQUIRE(gradient.cols() == 2);
  CHECK(gradient.col(1).isZero());
  CHECK((gradient.col(0) - gradient_x.col(0)).cwiseAbs().maxCoeff() < 1e-12);
  // Both columns differ, so comparing all of them gives another value.
  CHECK(std::abs(precise(0.5).value<double>(output, target, Vector<double>()) - value) > 1e-3);

  const Matrix<double> numerical = metnet::test::numerical_gradient(first_column, output, target, Vector<double>());
  CHECK(metnet::test::relative_error(gradient, numerical) < 1e-6);

  Sinkhorn too_many = precise(0.5);
  too_many.compared_columns = 3;
  CHECK_THROWS_AS(too_many.value<double>(output, target, Vector<double>()), metnet::ConfigError);
}

TEST_CASE("Sinkhorn compared columns survive the weights file", "[loss][sinkhorn]") {
  Sinkhorn loss{};
  loss.compared_columns = 1;
  const metnet::LossSettings settings = metnet::loss_settings(loss);
  CHECK(metnet::loss_from_settings<Sinkhorn>(settings).compared_columns == 1);

  // Files written before the parameter existed compared every column.
  metnet::LossSettings old_settings = settings;
  old_settings.parameters.erase("compared_columns");
  CHECK(metnet::loss_from_settings<Sinkhorn>(old_settings).compared_columns == 0);
}
