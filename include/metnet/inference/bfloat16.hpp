// SPDX-License-Identifier: MIT
#pragma once
// BFloat16: the 16-bit "brain floating point" storage type (1 sign bit, 8
// exponent bits, 7 mantissa bits), used to halve the weight traffic of the
// single-event inference path. It is a storage type only: metnet converts to
// float before any arithmetic and accumulates in float.
//
// Conversion from float rounds to nearest, ties to even, and keeps NaN a NaN;
// this matches torch.Tensor.to(torch.bfloat16) in PyTorch 1.13.

#include <bit>
#include <cstdint>

namespace metnet {

struct BFloat16 {
  std::uint16_t bits = 0;

  static constexpr BFloat16 from_float(float value) noexcept {
    const auto word = std::bit_cast<std::uint32_t>(value);
    if ((word & 0x7FFFFFFFu) > 0x7F800000u) {
      // NaN: truncate and set the quiet bit so that the payload cannot become infinity.
      return BFloat16{static_cast<std::uint16_t>((word >> 16) | 0x0040u)};
    }
    const std::uint32_t rounding_bias = 0x7FFFu + ((word >> 16) & 1u);
    return BFloat16{static_cast<std::uint16_t>((word + rounding_bias) >> 16)};
  }

  constexpr float to_float() const noexcept {
    return std::bit_cast<float>(static_cast<std::uint32_t>(bits) << 16);
  }
};

static_assert(sizeof(BFloat16) == 2, "BFloat16 must be two bytes so that weight panels pack densely");

}  // namespace metnet
