// SPDX-License-Identifier: MIT
#pragma once
// Checks shared by the MetNet facade tests: the resolution of a prediction
// against the truth, and the agreement of the single-event and batch paths.

#include <cmath>
#include <vector>

#include <catch2/catch.hpp>

#include "metnet/data/event_table.hpp"

namespace metnet::test {

// Per-axis RMS of (prediction - truth) in GeV.
template <class Px, class Py>
double rms_to_truth(const EventTable& events, const Px& px, const Py& py) {
  const auto true_x = events.column("True_EX");
  const auto true_y = events.column("True_EY");
  double sum = 0.0;
  for (Index i = 0; i < events.rows(); ++i) {
    sum += std::pow(px(i) - true_x(i), 2) + std::pow(py(i) - true_y(i), 2);
  }
  return std::sqrt(sum / (2.0 * static_cast<double>(events.rows())));
}

// Checks that predict_event gives the batch prediction for the first
// `count` events. The batch path uses the same kernels in tiles, so the two
// agree to float rounding of the GEMM order (1e-4 GeV on values of tens of
// GeV); the tolerance is 1e-3 GeV.
template <class Model>
void check_single_event_matches_batch(const Model& model, const EventTable& events, Index count) {
  const auto batch = model.predict(events);
  auto workspace = model.make_workspace();
  std::vector<float> values(model.event_columns().size());
  for (Index i = 0; i < count; ++i) {
    for (std::size_t k = 0; k < values.size(); ++k) {
      values[k] = events.column(model.event_columns()[k])(i);
    }
    const auto event = model.predict_event(values, workspace);
    CHECK_THAT(event.px, Catch::Matchers::WithinAbs(batch.px(i), 1e-3));
    CHECK_THAT(event.py, Catch::Matchers::WithinAbs(batch.py(i), 1e-3));
  }
}

}  // namespace metnet::test
