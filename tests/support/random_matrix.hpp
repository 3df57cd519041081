// SPDX-License-Identifier: MIT
#pragma once
// A matrix of standard-normal values from metnet::Rng, the inputs and
// targets of the thread tests.

#include <cstdint>

#include "metnet/core/random.hpp"
#include "metnet/core/types.hpp"

namespace metnet::test {

// Returns a rows x cols matrix of standard-normal values drawn with `seed`.
template <class T>
Matrix<T> normal_matrix(Index rows, Index cols, std::uint64_t seed) {
  Rng rng(seed);
  Matrix<T> m(rows, cols);
  for (Index i = 0; i < m.size(); ++i) {
    m.data()[i] = static_cast<T>(rng.normal());
  }
  return m;
}

}  // namespace metnet::test
