// SPDX-License-Identifier: MIT
#pragma once
// Whether two float matrices have the same shape and the same bits in every
// element, so that -0.0 differs from 0.0 and NaN payloads count.

#include <bit>
#include <cstdint>

#include "metnet/core/types.hpp"

namespace metnet::test {

inline bool bitwise_equal(const Matrix<float>& a, const Matrix<float>& b) {
  if (a.rows() != b.rows() || a.cols() != b.cols()) {
    return false;
  }
  for (Index i = 0; i < a.size(); ++i) {
    if (std::bit_cast<std::uint32_t>(a.data()[i]) != std::bit_cast<std::uint32_t>(b.data()[i])) {
      return false;
    }
  }
  return true;
}

}  // namespace metnet::test
