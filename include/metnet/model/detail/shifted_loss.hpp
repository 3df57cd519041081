// SPDX-License-Identifier: MIT
#pragma once
// A training loss evaluated on output + offset and target + offset, with the
// same per-event offset on both. MetNet::fit uses it for residual targets,
// with the reference MET in standardised target units as the offset. A
// distribution term (the Sinkhorn divergence) then compares the batch of
// full predicted MET with the batch of true MET, not two batches of
// corrections. Per-event terms of the difference (Huber, Gaussian NLL) see
// the same difference up to float rounding.

#include <string_view>
#include <type_traits>

#include "metnet/core/types.hpp"
#include "metnet/loss/loss_concept.hpp"
#include "metnet/loss/sinkhorn.hpp"
#include "metnet/loss/sum.hpp"

namespace metnet::detail {

// Whether a loss contains a term that compares whole batches (Sinkhorn).
template <class L>
struct has_distribution_term : std::false_type {};
template <>
struct has_distribution_term<Sinkhorn> : std::true_type {};
template <Loss First, Loss Second>
struct has_distribution_term<Sum<First, Second>>
    : std::bool_constant<has_distribution_term<First>::value || has_distribution_term<Second>::value> {};

template <Loss L>
class ShiftedLoss {
 public:
  static constexpr Index outputs_per_target = L::outputs_per_target;
  static constexpr bool is_probabilistic = L::is_probabilistic;
  static constexpr std::string_view name() { return L::name(); }

  // `offset` is n x targets and must outlive the calls. The mean of target c
  // is output column c * outputs_per_target, as the loss concept defines.
  ShiftedLoss(const L& loss, const Matrix<float>& offset) : loss_(loss), offset_(offset) {}

  template <class T>
  T value(ConstMatrixRef<T> output, ConstMatrixRef<T> target, ConstVectorRef<T> weights) const {
    static_assert(std::is_same_v<T, float>, "ShiftedLoss holds float offsets");
    shift(output, target);
    return loss_.template value<T>(shifted_output_, shifted_target_, weights);
  }

  // The gradient with respect to output + offset equals the one with
  // respect to output.
  template <class T>
  T value_and_gradient(ConstMatrixRef<T> output, ConstMatrixRef<T> target, ConstVectorRef<T> weights,
                       Matrix<T>& gradient) const {
    static_assert(std::is_same_v<T, float>, "ShiftedLoss holds float offsets");
    shift(output, target);
    return loss_.template value_and_gradient<T>(shifted_output_, shifted_target_, weights, gradient);
  }

 private:
  void shift(ConstMatrixRef<float> output, ConstMatrixRef<float> target) const {
    if (offset_.rows() != target.rows() || offset_.cols() != target.cols()) {
      throw ShapeError("ShiftedLoss: expected an offset of " + std::to_string(target.rows()) + " x " +
                       std::to_string(target.cols()) + " like the targets, found " +
                       std::to_string(offset_.rows()) + " x " + std::to_string(offset_.cols()));
    }
    shifted_output_ = output;
    shifted_target_ = target + offset_;
    for (Index c = 0; c < target.cols(); ++c) {
      const Index mean_column = c * outputs_per_target;
      if (mean_column < output.cols()) {
        shifted_output_.col(mean_column) += offset_.col(c);
      }
    }
  }

  const L& loss_;
  const Matrix<float>& offset_;
  // Reused between batches of one size, so a training step allocates only
  // when the batch size changes.
  mutable Matrix<float> shifted_output_;
  mutable Matrix<float> shifted_target_;
};

}  // namespace metnet::detail
