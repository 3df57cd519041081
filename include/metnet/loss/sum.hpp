// SPDX-License-Identifier: MIT
#pragma once
// A weighted sum of two losses on the same network output, itself a Loss:
//   L = first(output, target, w) + lambda * second(output, target, w)
//   dL/d output = d first / d output + lambda * d second / d output
// METNet's distribution-loss training uses Huber + lambda * (distribution
// loss) with lambda = 1. Leaves out: sums of more than two losses (nest
// Sum<Sum<A, B>, C>) and a probabilistic loss mixed with a point loss
// (both losses must read the same output layout).

#include <array>
#include <cmath>
#include <string>
#include <string_view>

#include "metnet/core/error.hpp"
#include "metnet/core/types.hpp"
#include "metnet/loss/huber.hpp"
#include "metnet/loss/loss_concept.hpp"
#include "metnet/loss/sinkhorn.hpp"

namespace metnet {

namespace detail {

// The compile-time name "first+second" of a Sum.
template <Loss First, Loss Second>
struct SumName {
  static constexpr std::size_t size = First::name().size() + 1 + Second::name().size();
  static constexpr std::array<char, size> characters = [] {
    std::array<char, size> joined{};
    std::size_t k = 0;
    for (const char c : First::name()) {
      joined[k++] = c;
    }
    joined[k++] = '+';
    for (const char c : Second::name()) {
      joined[k++] = c;
    }
    return joined;
  }();
};

}  // namespace detail

template <Loss First, Loss Second>
struct Sum {
  static_assert(First::outputs_per_target == Second::outputs_per_target,
                "metnet::Sum: both losses must expect the same number of outputs per target");

  First first{};
  Second second{};
  double lambda = 1.0;  // weight of the second loss, dimensionless

  static constexpr Index outputs_per_target = First::outputs_per_target;
  static constexpr bool is_probabilistic = First::is_probabilistic;
  static constexpr std::string_view name() {
    return {detail::SumName<First, Second>::characters.data(), detail::SumName<First, Second>::size};
  }

  template <class T>
  T value(ConstMatrixRef<T> output, ConstMatrixRef<T> target, ConstVectorRef<T> weights) const {
    check_lambda();
    return first.template value<T>(output, target, weights) +
           static_cast<T>(lambda) * second.template value<T>(output, target, weights);
  }

  template <class T>
  T value_and_gradient(ConstMatrixRef<T> output, ConstMatrixRef<T> target, ConstVectorRef<T> weights,
                       Matrix<T>& gradient) const {
    check_lambda();
    const T first_value = first.template value_and_gradient<T>(output, target, weights, gradient);
    Matrix<T> second_gradient;
    const T second_value = second.template value_and_gradient<T>(output, target, weights, second_gradient);
    const T weight = static_cast<T>(lambda);
    gradient += weight * second_gradient;
    return first_value + weight * second_value;
  }

 private:
  void check_lambda() const {
    if (!std::isfinite(lambda)) {
      throw ConfigError("loss sum " + std::string(name()) + ": expected a finite lambda, found " +
                        std::to_string(lambda));
    }
  }
};

// Huber regression plus lambda times the Sinkhorn divergence of the batch.
using HuberSinkhorn = Sum<Huber, Sinkhorn>;

static_assert(Loss<HuberSinkhorn>);
static_assert(HuberSinkhorn::name() == "huber+sinkhorn");

}  // namespace metnet
