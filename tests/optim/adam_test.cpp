// SPDX-License-Identifier: MIT
#include <cmath>
#include <fstream>
#include <limits>
#include <string>
#include <vector>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "metnet/optim.hpp"

using Catch::Matchers::WithinAbs;
using Catch::Matchers::WithinRel;
using metnet::Adam;
using metnet::AdamOptions;
using metnet::Matrix;
using metnet::Parameter;
using metnet::ParameterList;

namespace {

template <class T>
Matrix<T> matrix_from(const nlohmann::json& rows) {
  Matrix<T> m(static_cast<metnet::Index>(rows.size()), static_cast<metnet::Index>(rows.at(0).size()));
  for (metnet::Index i = 0; i < m.rows(); ++i) {
    for (metnet::Index c = 0; c < m.cols(); ++c) {
      m(i, c) = rows.at(i).at(c).get<T>();
    }
  }
  return m;
}

nlohmann::json load_fixture() {
  std::ifstream file(std::string(METNET_TEST_DATA_DIR) + "/optim/adam_fixture.json");
  REQUIRE(file.good());
  return nlohmann::json::parse(file);
}

Parameter<double> scalar_parameter(double value) {
  return Parameter<double>{"theta", Matrix<double>::Constant(1, 1, value), Matrix<double>::Zero(1, 1)};
}

}  // namespace

TEST_CASE("Adam adds eps after the bias-corrected root", "[optim][adam]") {
  // Case ADAM-01: torch.optim.Adam(lr=1e-3, eps=1e-8) in float64 from
  // theta = 1: grads (0.5, 0.5, 0.5) give 0.99900000002, 0.99800000004,
  // 0.99700000006; a single grad 1e-8 gives 0.9995 (TensorFlow's eps hat
  // would give 0.99996935, eps inside the root 0.9999999).
  auto theta = scalar_parameter(1.0);
  Adam<double> adam({&theta}, AdamOptions{.lr = 1e-3, .eps = 1e-8});
  const std::vector<double> expected = {0.99900000002, 0.99800000004, 0.99700000006};
  for (const double value : expected) {
    theta.grad(0, 0) = 0.5;
    adam.step();
    CHECK_THAT(theta.value(0, 0), WithinAbs(value, 1e-14));
  }

  auto small = scalar_parameter(1.0);
  Adam<double> small_adam({&small}, AdamOptions{.lr = 1e-3, .eps = 1e-8});
  small.grad(0, 0) = 1e-8;
  small_adam.step();
  CHECK_THAT(small.value(0, 0), WithinAbs(0.9995, 1e-14));
}

TEST_CASE("Adam and AdamW follow the PyTorch trajectories", "[optim][adam]") {
  // Reference: tests/optim/make_adam_fixture.py (torch.optim.Adam / AdamW and
  // clip_grad_norm_, PyTorch 1.13, float32). The update steps are about
  // lr = 0.01; 2e-6 is a few float32 ulps at |theta| ~ 2 after 10 steps.
  const auto fixture = load_fixture();
  for (const auto& item : fixture.at("cases")) {
    INFO(item.at("name").get<std::string>());
    const auto& options_json = item.at("options");
    AdamOptions options;
    options.lr = options_json.at("lr").get<double>();
    options.weight_decay = options_json.at("weight_decay").get<double>();
    if (options_json.contains("betas")) {
      options.beta1 = options_json.at("betas").at(0).get<double>();
      options.beta2 = options_json.at("betas").at(1).get<double>();
    }
    if (options_json.contains("max_grad_norm")) {
      options.max_grad_norm = options_json.at("max_grad_norm").get<double>();
    }
    const std::string name = item.at("name").get<std::string>();
    options.decay_mode = name.rfind("adamw", 0) == 0 ? metnet::WeightDecay::decoupled : metnet::WeightDecay::l2;

    std::vector<Parameter<float>> parameters;
    for (std::size_t k = 0; k < fixture.at("initial").size(); ++k) {
      const auto value = matrix_from<float>(fixture.at("initial").at(k));
      std::string parameter_name = "p";
      parameter_name += std::to_string(k);
      parameters.push_back({parameter_name, value, Matrix<float>::Zero(value.rows(), value.cols())});
    }
    ParameterList<float> list;
    for (auto& parameter : parameters) {
      list.push_back(&parameter);
    }
    Adam<float> adam(list, options);

    const auto& trajectory = item.at("trajectory");
    for (std::size_t step = 0; step < trajectory.size(); ++step) {
      for (std::size_t k = 0; k < parameters.size(); ++k) {
        parameters[k].grad = matrix_from<float>(fixture.at("gradients").at(step).at(k));
      }
      adam.step();
      for (std::size_t k = 0; k < parameters.size(); ++k) {
        const auto expected = matrix_from<float>(trajectory.at(step).at(k));
        INFO("step " << step + 1 << ", parameter " << k);
        CHECK((parameters[k].value - expected).cwiseAbs().maxCoeff() < 2e-6F);
      }
    }
  }
}

TEST_CASE("Cosine schedule matches PyTorch warm restarts", "[optim][schedule]") {
  // Reference: torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(T_0=4,
  // T_mult=2, eta_min=1e-4) from lr 0.01, via tests/optim/make_adam_fixture.py.
  const auto fixture = load_fixture().at("cosine_warm_restarts");
  const metnet::CosineWarmRestarts schedule{.max_lr = 0.01, .min_lr = 1e-4, .cycle_steps = 4, .cycle_multiplier = 2};
  const auto rates = fixture.at("rates").get<std::vector<double>>();
  for (std::size_t step = 0; step < rates.size(); ++step) {
    INFO("step " << step);
    CHECK_THAT(schedule(static_cast<std::int64_t>(step)), WithinAbs(rates[step], 1e-12));
  }
}

TEST_CASE("Cosine schedule warms up linearly", "[optim][schedule]") {
  // Cycle of 10 steps with 30 % warm-up: 0 -> min, 1 -> a third, 3 -> max,
  // then a half cosine over the remaining 7 steps; step 10 restarts.
  const metnet::CosineWarmRestarts schedule{.max_lr = 1.0, .min_lr = 0.0, .cycle_steps = 10, .warmup_fraction = 0.3};
  CHECK_THAT(schedule(0), WithinAbs(0.0, 1e-15));
  CHECK_THAT(schedule(1), WithinAbs(1.0 / 3.0, 1e-15));
  CHECK_THAT(schedule(3), WithinAbs(1.0, 1e-15));
  CHECK_THAT(schedule(10), WithinAbs(0.0, 1e-15));
}

TEST_CASE("Adam uses the schedule for each step", "[optim][adam][schedule]") {
  // With beta1 = 0 and a constant gradient the first update is exactly lr
  // times g / (|g| + eps); the schedule gives lr = 0.5 at step 0, 0.25 at step 1.
  auto theta = scalar_parameter(0.0);
  Adam<double> adam({&theta}, AdamOptions{.beta1 = 0.0, .eps = 0.0});
  adam.set_schedule([](std::int64_t step) { return step == 0 ? 0.5 : 0.25; });
  theta.grad(0, 0) = 2.0;
  CHECK(adam.learning_rate() == 0.5);
  adam.step();
  CHECK_THAT(theta.value(0, 0), WithinAbs(-0.5, 1e-15));
  CHECK(adam.learning_rate() == 0.25);
}

TEST_CASE("Adam state restores an interrupted run", "[optim][adam]") {
  // Ten steps in one run must equal five steps, a checkpoint, and five steps
  // in a new optimiser that loaded the state.
  const auto gradient = [](int step) { return 0.3 * std::sin(1.7 * step) + 0.1; };
  auto straight = scalar_parameter(1.0);
  Adam<double> first({&straight}, AdamOptions{.lr = 0.05});
  for (int step = 0; step < 10; ++step) {
    straight.grad(0, 0) = gradient(step);
    first.step();
  }

  auto resumed = scalar_parameter(1.0);
  metnet::AdamState<double> checkpoint;
  {
    Adam<double> before({&resumed}, AdamOptions{.lr = 0.05});
    for (int step = 0; step < 5; ++step) {
      resumed.grad(0, 0) = gradient(step);
      before.step();
    }
    checkpoint = before.state();
  }
  Adam<double> after({&resumed}, AdamOptions{.lr = 0.05});
  after.load_state(checkpoint);
  CHECK(after.step_count() == 5);
  for (int step = 5; step < 10; ++step) {
    resumed.grad(0, 0) = gradient(step);
    after.step();
  }
  CHECK(resumed.value(0, 0) == straight.value(0, 0));
}

TEST_CASE("Gradient clipping scales to the maximum norm", "[optim][clip]") {
  // Gradients (3, 4) and (12) have global norm 13; clipping to 6.5 halves
  // them (up to the 1e-6 that clip_grad_norm_ adds to the norm).
  Parameter<double> a{"a", Matrix<double>::Zero(1, 2), Matrix<double>(1, 2)};
  Parameter<double> b{"b", Matrix<double>::Zero(1, 1), Matrix<double>::Constant(1, 1, 12.0)};
  a.grad << 3.0, 4.0;
  const double norm = metnet::clip_grad_norm<double>({&a, &b}, 6.5);
  CHECK_THAT(norm, WithinAbs(13.0, 1e-12));
  CHECK_THAT(a.grad(0, 1), WithinRel(2.0, 1e-6));
  CHECK_THAT(b.grad(0, 0), WithinRel(6.0, 1e-6));
  // A norm below the maximum leaves the gradients alone.
  const double clipped = b.grad(0, 0);
  metnet::clip_grad_norm<double>({&a, &b}, 100.0);
  CHECK(b.grad(0, 0) == clipped);
}

TEST_CASE("Adam rejects bad options and gradients", "[optim][adam]") {
  auto theta = scalar_parameter(1.0);
  CHECK_THROWS_AS(Adam<double>({&theta}, AdamOptions{.beta1 = 1.0}), metnet::ConfigError);
  CHECK_THROWS_AS(Adam<double>({&theta}, AdamOptions{.lr = -1.0}), metnet::ConfigError);
  CHECK_THROWS_WITH(Adam<double>({&theta, &theta}), Catch::Matchers::Contains("appears twice"));
  Adam<double> adam({&theta});
  theta.grad(0, 0) = std::numeric_limits<double>::quiet_NaN();
  CHECK_THROWS_AS(adam.step(), metnet::NumericError);
  CHECK(theta.value(0, 0) == 1.0);
  CHECK(adam.step_count() == 0);
  theta.grad.resize(2, 1);
  CHECK_THROWS_AS(adam.step(), metnet::ShapeError);
  // A parameter that changed shape after the optimiser was created.
  auto grown = scalar_parameter(1.0);
  Adam<double> grown_adam({&grown});
  grown.value = Matrix<double>::Zero(3, 1);
  grown.grad = Matrix<double>::Ones(3, 1);
  CHECK_THROWS_WITH(grown_adam.step(), Catch::Matchers::Contains("create the optimiser after"));
  CHECK(grown.value.isZero(0.0));
  metnet::AdamState<double> wrong{.step = 3, .first_moment = {Matrix<double>::Zero(2, 2)},
                                  .second_moment = {Matrix<double>::Zero(2, 2)}};
  CHECK_THROWS_AS(adam.load_state(wrong), metnet::ShapeError);
}
