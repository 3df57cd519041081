// SPDX-License-Identifier: MIT
// Tests of metnet::FixedMlp against the double reference and InferenceMlp.

#include <array>
#include <memory>
#include <vector>

#include <catch2/catch.hpp>

#include "metnet/inference/fixed_mlp.hpp"
#include "metnet/inference/inference_mlp.hpp"
#include "reference_mlp.hpp"

using Catch::Matchers::WithinAbs;
using metnet::Index;
using metnet::Matrix;

TEST_CASE("FixedMlp matches the double reference on Net S", "[inference][fixed]") {
  const auto weights = metnet::test::random_weights(metnet::test::net_s_config(), 21);
  // The object stores 0.63 MB of weights, too much for a test thread's stack.
  const auto network = std::make_unique<metnet::FixedMlp<77, 128, 10, 2>>(weights.cast<float>());
  const Matrix<double> inputs = metnet::test::random_inputs(10, 77, 22);
  for (Index event = 0; event < inputs.rows(); ++event) {
    std::array<float, 77> input;
    for (Index c = 0; c < 77; ++c) {
      input[static_cast<std::size_t>(c)] = static_cast<float>(inputs(event, c));
    }
    const std::array<float, 2> output = network->predict(input);
    const auto expected = metnet::test::reference_forward(weights, metnet::test::row_of(inputs, event));
    // Same tolerance and reason as the float InferenceMlp tests: 2e-5 absolute
    // on O(1) outputs, about 3 times the worst float error seen.
    CHECK_THAT(output[0], WithinAbs(expected[0], 2e-5));
    CHECK_THAT(output[1], WithinAbs(expected[1], 2e-5));
  }
}

TEST_CASE("FixedMlp equals InferenceMlp bit for bit", "[inference][fixed]") {
  // Odd sizes exercise padding. Both classes run the same kernels in the same order.
  metnet::MlpConfig config;
  config.inputs = 13;
  config.width = 40;
  config.hidden_layers = 2;
  config.outputs = 3;
  config.activation = metnet::Activation::tanh;
  const auto weights = metnet::test::random_weights(config, 23).cast<float>();
  const metnet::FixedMlp<13, 40, 2, 3> fixed(weights);
  const metnet::InferenceMlp<float> dynamic(weights);
  auto workspace = dynamic.make_workspace();
  const Matrix<float> inputs = metnet::test::random_inputs(5, 13, 24).cast<float>();
  for (Index event = 0; event < inputs.rows(); ++event) {
    float expected[3];
    float found[3];
    dynamic.predict(inputs.row(event).data(), expected, workspace);
    fixed.predict(inputs.row(event).data(), found);
    CHECK(found[0] == expected[0]);
    CHECK(found[1] == expected[1]);
    CHECK(found[2] == expected[2]);
  }
}

TEST_CASE("FixedMlp equals InferenceMlp for narrow layers", "[inference][fixed]") {
  // Width 6 and 3 outputs are at most half a packet with AVX-512 floats, so
  // there every layer is stored by rows (dense_dots) in both classes.
  metnet::MlpConfig config;
  config.inputs = 13;
  config.width = 6;
  config.hidden_layers = 3;
  config.outputs = 3;
  config.activation = metnet::Activation::silu;
  const auto weights = metnet::test::random_weights(config, 26).cast<float>();
  const metnet::FixedMlp<13, 6, 3, 3> fixed(weights);
  const metnet::InferenceMlp<float> dynamic(weights);
  auto workspace = dynamic.make_workspace();
  const Matrix<float> inputs = metnet::test::random_inputs(5, 13, 27).cast<float>();
  for (Index event = 0; event < inputs.rows(); ++event) {
    float expected[3];
    float found[3];
    dynamic.predict(inputs.row(event).data(), expected, workspace);
    fixed.predict(inputs.row(event).data(), found);
    CHECK(found[0] == expected[0]);
    CHECK(found[1] == expected[1]);
    CHECK(found[2] == expected[2]);
  }
}

TEST_CASE("FixedMlp rejects weights of another shape", "[inference][fixed][errors]") {
  auto config = metnet::test::net_s_config();
  config.width = 64;
  const auto weights = metnet::test::random_weights(config, 25).cast<float>();
  using NetS = metnet::FixedMlp<77, 128, 10, 2>;
  CHECK_THROWS_AS(std::make_unique<NetS>(weights), metnet::ShapeError);
  CHECK_THROWS_WITH(std::make_unique<NetS>(weights), Catch::Contains("width=64"));
}
