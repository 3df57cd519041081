// SPDX-License-Identifier: MIT
// Training steps of the Mlp on several threads and on Eigen's products: the
// thread count must not change a single bit, and the packed products must
// agree with Eigen's within rounding.

#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "../support/random_matrix.hpp"

#include "../autodiff/test_huber.hpp"
#include "metnet/core/random.hpp"
#include "metnet/nn.hpp"
#include "metnet/optim/adam.hpp"

namespace {

using metnet::test::normal_matrix;

using metnet::Index;
using metnet::Matrix;
using metnet::Mlp;
using metnet::MlpConfig;

// Widths that are not multiples of a packet, a column block or a row tile.
MlpConfig odd_config() {
  MlpConfig config;
  config.inputs = 77;
  config.outputs = 2;
  config.hidden_layers = 3;
  config.width = 70;
  return config;
}

struct StepResult {
  std::vector<float> losses;
  std::vector<Matrix<float>> gradients;  // of the last step
  std::vector<Matrix<float>> weights;    // after the last step
};

// Three Adam steps on two alternating batches of 101 and 37 events, with
// dL/dinput enabled so that every product of the backward pass runs.
StepResult train_steps(int threads, bool eigen_products) {
  metnet::Rng rng(11);
  Mlp<float> mlp(odd_config(), rng);
  mlp.set_threads(threads);
  mlp.set_eigen_products(eigen_products);
  mlp.set_input_grad(true);
  metnet::Adam<float> optimiser(mlp.parameters());
  const metnet::test::TestHuber loss{};
  StepResult result;
  for (int step = 0; step < 3; ++step) {
    const Index rows = step == 1 ? 37 : 101;
    const Matrix<float> x = normal_matrix<float>(rows, 77, 20 + static_cast<std::uint64_t>(step));
    const Matrix<float> target = normal_matrix<float>(rows, 2, 30 + static_cast<std::uint64_t>(step));
    optimiser.zero_grad();
    result.losses.push_back(mlp.forward_backward(x, target, metnet::Vector<float>(), loss));
    optimiser.step();
  }
  for (auto* parameter : mlp.parameters()) {
    result.gradients.push_back(parameter->grad);
    result.weights.push_back(parameter->value);
  }
  result.gradients.push_back(mlp.input_grad());
  return result;
}

}  // namespace

TEST_CASE("Mlp steps are identical on 1 to 3 threads", "[nn][mlp][threads]") {
  const StepResult single_thread = train_steps(1, false);
  for (const int threads : {2, 3}) {
    INFO("threads " << threads);
    const StepResult multi_thread = train_steps(threads, false);
    CHECK(multi_thread.losses == single_thread.losses);
    REQUIRE(multi_thread.gradients.size() == single_thread.gradients.size());
    for (std::size_t k = 0; k < single_thread.gradients.size(); ++k) {
      INFO("gradient " << k);
      CHECK(multi_thread.gradients[k] == single_thread.gradients[k]);
    }
    for (std::size_t k = 0; k < single_thread.weights.size(); ++k) {
      INFO("parameter " << k);
      CHECK(multi_thread.weights[k] == single_thread.weights[k]);
    }
  }
}

TEST_CASE("Mlp packed products agree with Eigen", "[nn][mlp][threads]") {
  const StepResult packed = train_steps(2, false);
  const StepResult eigen = train_steps(1, true);
  REQUIRE(packed.losses.size() == eigen.losses.size());
  for (std::size_t k = 0; k < packed.losses.size(); ++k) {
    CHECK(packed.losses[k] == Approx(eigen.losses[k]).epsilon(1e-5));
  }
  // Float rounding of a sum over 101 events, relative to the largest entry.
  for (std::size_t k = 0; k < packed.gradients.size(); ++k) {
    INFO("gradient " << k);
    const float scale = eigen.gradients[k].cwiseAbs().maxCoeff();
    CHECK((packed.gradients[k] - eigen.gradients[k]).cwiseAbs().maxCoeff() <= 1e-4F * scale);
  }
}

TEST_CASE("Mlp rejects a thread count below 1", "[nn][mlp][threads]") {
  metnet::Rng rng(3);
  Mlp<float> mlp(odd_config(), rng);
  CHECK_THROWS_WITH(mlp.set_threads(0), Catch::Contains("expected at least 1 thread, found 0"));
  CHECK(mlp.threads() == 1);
  mlp.set_threads(2);
  CHECK(mlp.threads() == 2);
}
