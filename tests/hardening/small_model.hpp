// SPDX-License-Identifier: MIT
#pragma once
// Small simulated samples and small trained METNet models shared by the
// hardening tests. The networks (2 hidden layers of width 16, 2 epochs)
// are far from converged: these tests check robustness, not resolution.

#include <span>
#include <string>
#include <vector>

#include "metnet/metnet.hpp"

namespace metnet::test {

inline const EventTable& small_ttbar() {
  static const EventTable events = simulate(Process::ttbar, 3000, SimulationConfig{}, 41);
  return events;
}

inline TrainingOptions small_training(int epochs = 2, Index batch_size = 128) {
  TrainingOptions options;
  options.epochs = epochs;
  options.batch_size = batch_size;
  options.patience = 0;
  options.seed = 7;
  return options;
}

template <class L>
MetNet<L> train_small(const EventTable& events, const TrainingOptions& options) {
  // A named schema: FeatureSchema{} as an argument inside this template makes
  // GCC 12 stop with an internal compiler error (check_noexcept_r).
  const FeatureSchema schema;
  MetNet<L> model(schema, NetworkShape{2, 16});
  model.fit(events, options);
  return model;
}

template <class L>
MetNet<L> train_small(const EventTable& events) {
  return train_small<L>(events, small_training());
}

// The values of one event in model.event_columns() order, as predict_event expects them.
template <class Model>
Matrix<float> event_rows(const Model& model, const EventTable& events) {
  const std::vector<std::string>& names = model.event_columns();
  Matrix<float> rows(events.rows(), static_cast<Index>(names.size()));
  for (std::size_t k = 0; k < names.size(); ++k) {
    rows.col(static_cast<Index>(k)) = events.column(names[k]);
  }
  return rows;
}

inline std::span<const float> row_span(const Matrix<float>& rows, Index row) {
  return {rows.row(row).data(), static_cast<std::size_t>(rows.cols())};
}

}  // namespace metnet::test
