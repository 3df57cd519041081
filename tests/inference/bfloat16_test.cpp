// SPDX-License-Identifier: MIT
// Tests of metnet::BFloat16 and of InferenceMlp with bf16-stored weights.

#include <bit>
#include <cmath>
#include <limits>

#include <catch2/catch.hpp>

#include "metnet/inference/bfloat16.hpp"
#include "metnet/inference/inference_mlp.hpp"
#include "reference_mlp.hpp"

using Catch::Matchers::WithinAbs;
using metnet::BFloat16;
using metnet::Index;
using metnet::Matrix;

TEST_CASE("bf16 conversion rounds to nearest even", "[inference][bf16]") {
  // Bit patterns worked out by hand and confirmed with PyTorch 1.13:
  // torch.tensor([...]).to(torch.bfloat16).view(torch.int16). 1 + 2^-8 lies halfway between the bf16
  // neighbours 1 (0x3F80) and 1 + 2^-7 (0x3F81), so it rounds to the even 0x3F80.
  // 1 + 3 * 2^-8 lies halfway between 0x3F81 and 0x3F82 and rounds to 0x3F82.
  // 1 + 1.5 * 2^-8 lies above the halfway point and rounds up to 0x3F81.
  CHECK(BFloat16::from_float(1.0f).bits == 0x3F80);
  CHECK(BFloat16::from_float(1.0f + 0x1.0p-8f).bits == 0x3F80);
  CHECK(BFloat16::from_float(1.0f + 3 * 0x1.0p-8f).bits == 0x3F82);
  CHECK(BFloat16::from_float(1.0f + 0x1.8p-8f).bits == 0x3F81);
  CHECK(BFloat16::from_float(-2.0f).to_float() == -2.0f);
  CHECK(std::isinf(BFloat16::from_float(std::numeric_limits<float>::infinity()).to_float()));
  CHECK(std::isnan(BFloat16::from_float(std::numeric_limits<float>::quiet_NaN()).to_float()));
  // A NaN whose payload sits only in the low 16 bits must stay a NaN.
  CHECK(std::isnan(BFloat16::from_float(std::bit_cast<float>(0x7F800001u)).to_float()));
}

TEST_CASE("bf16 weights stay within the stated tolerance", "[inference][bf16]") {
  // bf16 keeps 8 significant bits, a relative rounding of at most 2^-9 = 2e-3
  // per weight. On Net S with random weights the largest output difference
  // from the double reference measured 0.03 on outputs of order 1, so the
  // tolerance 0.1 leaves a margin of about 3.
  const auto weights = metnet::test::random_weights(metnet::test::net_s_config(), 31);
  const metnet::Bf16InferenceMlp network(weights.cast<float>());
  auto workspace = network.make_workspace();
  const Matrix<double> inputs = metnet::test::random_inputs(64, 77, 32);
  const Matrix<float> inputs_float = inputs.cast<float>();
  const Matrix<float> batch = network.predict(inputs_float, workspace);
  for (Index event = 0; event < inputs.rows(); ++event) {
    float single[2];
    network.predict(inputs_float.row(event).data(), single, workspace);
    const auto expected = metnet::test::reference_forward(weights, metnet::test::row_of(inputs, event));
    CHECK_THAT(single[0], WithinAbs(expected[0], 0.1));
    CHECK_THAT(single[1], WithinAbs(expected[1], 0.1));
    CHECK(batch(event, 0) == single[0]);
    CHECK(batch(event, 1) == single[1]);
  }
}
