// SPDX-License-Identifier: MIT
#pragma once
// Shape and value checks shared by the losses, and the per-event reduction.
// The checks raise metnet::ShapeError with the loss name, the expected and
// the found shape, so that a wrong network head is reported at the first
// batch rather than read out of bounds.

#include <cmath>
#include <stdexcept>
#include <string>
#include <string_view>

#include "metnet/core/error.hpp"
#include "metnet/core/types.hpp"
#include "metnet/loss/loss_concept.hpp"

namespace metnet::detail {

inline std::string shape_string(Index rows, Index cols) {
  return std::to_string(rows) + "x" + std::to_string(cols);
}

// Check output (n x targets * outputs_per_target), target (n x targets) and
// weights (n, or empty for unit weights).
template <class T>
void check_loss_inputs(std::string_view loss_name, Index outputs_per_target, ConstMatrixRef<T> output,
                       ConstMatrixRef<T> target, ConstVectorRef<T> weights) {
  const Index expected_cols = target.cols() * outputs_per_target;
  if (output.rows() != target.rows() || output.cols() != expected_cols) {
    throw ShapeError(std::string(loss_name) + " loss: expected an output of shape " +
                     shape_string(target.rows(), expected_cols) + " (" + std::to_string(outputs_per_target) +
                     " outputs for each of the " + std::to_string(target.cols()) + " target columns of " +
                     std::to_string(target.rows()) + " events), found " +
                     shape_string(output.rows(), output.cols()) +
                     "; check that the network head matches the loss");
  }
  if (weights.size() != 0 && weights.size() != target.rows()) {
    throw ShapeError(std::string(loss_name) + " loss: expected " + std::to_string(target.rows()) +
                     " per-event weights (one for each event) or none, found " + std::to_string(weights.size()) +
                     "; pass an empty vector for unit weights");
  }
}

// The batch loss from per-event losses l_i:
//   mean: (1/n) sum_i w_i l_i      sum: sum_i w_i l_i
// Empty weights mean w_i = 1.
template <class T>
T reduce_event_losses(const Vector<T>& event_loss, ConstVectorRef<T> weights, Reduction reduction) {
  const T total = weights.size() == 0 ? event_loss.sum() : event_loss.dot(weights);
  if (reduction == Reduction::mean && event_loss.size() > 0) {
    return total / static_cast<T>(event_loss.size());
  }
  return total;
}

// The factor that multiplies d(l_i)/d(output) in the batch gradient:
// w_i / n for mean, w_i for sum.
template <class T>
T event_gradient_scale(Index event, Index events, ConstVectorRef<T> weights, Reduction reduction) {
  const T weight = weights.size() == 0 ? T(1) : weights(event);
  return reduction == Reduction::mean ? weight / static_cast<T>(events) : weight;
}

}  // namespace metnet::detail
