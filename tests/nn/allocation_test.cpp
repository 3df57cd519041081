// SPDX-License-Identifier: MIT
// A training step of the Mlp with an unchanged batch shape must not touch
// the heap once the first step has sized its buffers.

#include <catch2/catch.hpp>

#include "../autodiff/allocation_counter.hpp"
#include "../autodiff/test_huber.hpp"
#include "metnet/nn.hpp"

TEST_CASE("Mlp training step allocates nothing after the first", "[nn][mlp][allocation]") {
  metnet::MlpConfig config;
  config.inputs = 76;
  config.outputs = 2;
  config.hidden_layers = 3;
  config.width = 64;
  metnet::Rng rng(1);
  metnet::Mlp<float> mlp(config, rng);
  mlp.set_input_grad(true);
  const metnet::Matrix<float> x = metnet::Matrix<float>::Random(128, 76);
  const metnet::Matrix<float> target = metnet::Matrix<float>::Random(128, 2);
  const metnet::Vector<float> weights = metnet::Vector<float>::Ones(128);
  const metnet::test::TestHuber loss{};
  mlp.forward_backward(x, target, weights, loss);

  std::size_t count = 0;
  {
    metnet::test::AllocationCounter counter;
    for (int step = 0; step < 3; ++step) {
      mlp.zero_grad();
      mlp.forward_backward(x, target, weights, loss);
    }
    count = counter.count();
  }
  CHECK(count == 0);
  CHECK(mlp.input_grad().allFinite());
}
