// SPDX-License-Identifier: MIT
// Adam::step and Adam::zero_grad on the training threads of an Mlp against
// the same calls on the calling thread: the parameters must be bitwise equal.

#include <catch2/catch.hpp>

#include "../support/random_matrix.hpp"

#include "metnet/core/random.hpp"
#include "metnet/loss/huber.hpp"
#include "metnet/nn/mlp.hpp"
#include "metnet/optim/adam.hpp"

namespace {

using metnet::test::normal_matrix;

using metnet::Adam;
using metnet::AdamOptions;
using metnet::Index;
using metnet::Matrix;
using metnet::Mlp;
using metnet::MlpConfig;
using metnet::Vector;

// A network 7 -> 2 x 90 -> 2. Width 90 gives weights of 8100 values, more
// than one piece of the update.
MlpConfig small_config() {
  MlpConfig config;
  config.inputs = 7;
  config.width = 90;
  config.hidden_layers = 2;
  config.outputs = 2;
  return config;
}

// Three training steps of two copies of one network, one on `threads`
// threads and one on the calling thread.
void check_threads_match_serial(const AdamOptions& options, int threads) {
  const MlpConfig config = small_config();
  metnet::Rng init_rng(5);
  Mlp<float> parallel(config, init_rng);
  Mlp<float> serial(parallel.weights());
  parallel.set_threads(threads);
  Adam<float> parallel_adam(parallel.parameters(), options);
  Adam<float> serial_adam(serial.parameters(), options);
  const metnet::Huber loss{};

  for (int step = 0; step < 3; ++step) {
    const Matrix<float> inputs = normal_matrix<float>(50, config.inputs, 10 + step);
    const Matrix<float> targets = normal_matrix<float>(50, config.outputs, 20 + step);
    parallel_adam.zero_grad(parallel);
    serial_adam.zero_grad();
    parallel.forward_backward(inputs, targets, Vector<float>(), loss);
    serial.forward_backward(inputs, targets, Vector<float>(), loss);
    const double parallel_norm = parallel_adam.step(parallel);
    const double serial_norm = serial_adam.step();
    CHECK(parallel_norm == serial_norm);
  }

  const auto parallel_weights = parallel.weights();
  const auto serial_weights = serial.weights();
  for (std::size_t layer = 0; layer < serial_weights.linear.size(); ++layer) {
    INFO("layer " << layer << ", threads " << threads);
    CHECK(parallel_weights.linear[layer].weight == serial_weights.linear[layer].weight);
    CHECK(parallel_weights.linear[layer].bias == serial_weights.linear[layer].bias);
  }
  CHECK(parallel_adam.state().first_moment == serial_adam.state().first_moment);
  CHECK(parallel_adam.state().second_moment == serial_adam.state().second_moment);
}

}  // namespace

TEST_CASE("Adam on threads equals Adam on one", "[optim][adam][threads]") {
  for (const int threads : {2, 3}) {
    check_threads_match_serial(AdamOptions{.lr = 1e-2}, threads);
    // Clipping below the norm, and both kinds of weight decay.
    check_threads_match_serial(AdamOptions{.lr = 1e-2, .weight_decay = 0.1, .max_grad_norm = 0.01}, threads);
    check_threads_match_serial(
        AdamOptions{.lr = 1e-2, .weight_decay = 0.1, .decay_mode = metnet::WeightDecay::decoupled}, threads);
  }
}

TEST_CASE("Adam zero_grad on threads clears every gradient", "[optim][adam][threads]") {
  metnet::Rng init_rng(6);
  Mlp<float> network(small_config(), init_rng);
  network.set_threads(2);
  Adam<float> adam(network.parameters());
  const Matrix<float> inputs = normal_matrix<float>(40, 7, 1);
  const Matrix<float> targets = normal_matrix<float>(40, 2, 2);
  network.forward_backward(inputs, targets, Vector<float>(), metnet::Huber{});
  adam.zero_grad(network);
  for (const auto* parameter : network.parameters()) {
    INFO(parameter->name);
    CHECK(parameter->grad.rows() == parameter->value.rows());
    CHECK(parameter->grad.cols() == parameter->value.cols());
    CHECK(parameter->grad.isZero(0.0));
  }
}
