// SPDX-License-Identifier: MIT
#pragma once
// What makes a type a metnet training loss, stated as a C++20 concept.
//
// A loss compares the raw network output of a batch with the targets:
//   output  n x (targets * outputs_per_target)  raw network output
//   target  n x targets                          standardised targets
//   weights n, or empty for unit weights         per-event sample weights
// and returns a scalar. value_and_gradient also writes dL/d(output) into
// gradient (resized to the shape of output). Losses with
// outputs_per_target == 2 are probabilistic: for target c the output holds
// the mean in column 2c and the raw scale in column 2c + 1, so the
// (p_x, sigma_x, p_y, sigma_y) order of the METNetSig network.

#include <concepts>
#include <string_view>

#include "metnet/core/types.hpp"

namespace metnet {

// How per-event losses are combined into the batch loss.
//   mean: (1/n) sum_i w_i l_i      (PyTorch's mean over the batch of w_i * l_i)
//   sum:  sum_i w_i l_i
enum class Reduction { mean, sum };

template <class L>
concept Loss = requires(const L& loss, ConstMatrixRef<float> output, ConstMatrixRef<float> target,
                        ConstVectorRef<float> weights, Matrix<float>& gradient) {
  { L::outputs_per_target } -> std::convertible_to<Index>;
  { L::is_probabilistic } -> std::convertible_to<bool>;
  { L::name() } -> std::convertible_to<std::string_view>;
  { loss.template value<float>(output, target, weights) } -> std::same_as<float>;
  { loss.template value_and_gradient<float>(output, target, weights, gradient) } -> std::same_as<float>;
};

}  // namespace metnet
