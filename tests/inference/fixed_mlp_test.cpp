// SPDX-License-Identifier: MIT
// Tests of metnet::FixedMlp against the double reference and InferenceMlp.

#include <array>
#include <cstdint>
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

namespace {

// Checks that FixedMlp<13, Width, Hidden, 3> and InferenceMlp give the same
// outputs to the bit on five random events.
template <int Width, int Hidden>
void check_fixed_equals_inference(metnet::Activation activation, std::uint64_t seed) {
  metnet::MlpConfig config;
  config.inputs = 13;
  config.width = Width;
  config.hidden_layers = Hidden;
  config.outputs = 3;
  config.activation = activation;
  const auto weights = metnet::test::random_weights(config, seed).cast<float>();
  const metnet::FixedMlp<13, Width, Hidden, 3> fixed(weights);
  const metnet::InferenceMlp<float> dynamic(weights);
  auto workspace = dynamic.make_workspace();
  const Matrix<float> inputs = metnet::test::random_inputs(5, 13, seed + 1).cast<float>();
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

}  // namespace

TEST_CASE("FixedMlp equals InferenceMlp bit for bit", "[inference][fixed]") {
  // Odd sizes exercise padding. Both classes run the same kernels in the same order.
  check_fixed_equals_inference<40, 2>(metnet::Activation::tanh, 23);
}

TEST_CASE("FixedMlp equals InferenceMlp for narrow layers", "[inference][fixed]") {
  // Width 6 and 3 outputs are at most half a packet with AVX-512 floats, so
  // there every layer is stored by rows (dense_dots) in both classes.
  check_fixed_equals_inference<6, 3>(metnet::Activation::silu, 26);
}

TEST_CASE("FixedMlp rejects weights of another shape", "[inference][fixed][errors]") {
  auto config = metnet::test::net_s_config();
  config.width = 64;
  const auto weights = metnet::test::random_weights(config, 25).cast<float>();
  using NetS = metnet::FixedMlp<77, 128, 10, 2>;
  CHECK_THROWS_AS(std::make_unique<NetS>(weights), metnet::ShapeError);
  CHECK_THROWS_WITH(std::make_unique<NetS>(weights), Catch::Contains("width=64"));
}
