// SPDX-License-Identifier: MIT
#pragma once
// Helpers of the MetNet facade: gathering columns, row selection, shuffling,
// weight checks and the unit sanity check.

#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include "metnet/core/error.hpp"
#include "metnet/core/random.hpp"
#include "metnet/core/types.hpp"
#include "metnet/data/event_table.hpp"
#include "metnet/data/feature_schema.hpp"
#include "metnet/data/rotation.hpp"
#include "metnet/model/prediction.hpp"
#include "metnet/nn/mlp.hpp"

namespace metnet::detail {

// Position of `name` in `names`; throws FormatError if absent.
inline Index position(const std::vector<std::string>& names, const std::string& name) {
  const Index index = find_name(names, name);
  if (index < 0) {
    throw FormatError("missing column '" + name + "'");
  }
  return index;
}

// The named columns of the table, in the given order. Throws FormatError
// naming the first missing column.
inline Matrix<float> gather_columns(const EventTable& table, const std::vector<std::string>& names) {
  Matrix<float> result(table.rows(), static_cast<Index>(names.size()));
  for (std::size_t k = 0; k < names.size(); ++k) {
    if (!table.has_column(names[k])) {
      throw FormatError("missing column '" + names[k] + "': the model reads " + std::to_string(names.size()) +
                        " input columns and the events have " + std::to_string(table.cols()) +
                        "; write the events with the METNet feature names (see FeatureSchema)");
    }
    result.col(static_cast<Index>(k)) = table.column(names[k]);
  }
  return result;
}

// Rotation angle of every event, or zeros when rotation is off.
inline Vector<double> event_angles(const EventTable& table, const FeatureSchema& schema) {
  if (!schema.rotate) {
    return Vector<double>::Zero(table.rows());
  }
  return rotation_angles(table, schema.reference);
}

// The reference MET of every event in the frame of the network inputs
// (rotated when rotation is on), one row (x, y) per event.
inline Matrix<double> reference_in_frame(const EventTable& table, const FeatureSchema& schema,
                                         const Vector<double>& angles) {
  const auto x = table.column(schema.reference_x());
  const auto y = table.column(schema.reference_y());
  Matrix<double> reference(table.rows(), 2);
  for (Index i = 0; i < table.rows(); ++i) {
    const Vector2<double> turned = rotate_to_reference<double>(x(i), y(i), schema.rotate ? angles(i) : 0.0);
    reference(i, 0) = turned.x;
    reference(i, 1) = turned.y;
  }
  return reference;
}

template <class Derived>
auto take_rows(const Eigen::MatrixBase<Derived>& values, const std::vector<Index>& rows) {
  using Plain = typename Derived::PlainObject;
  Plain result(static_cast<Index>(rows.size()), values.cols());
  for (std::size_t i = 0; i < rows.size(); ++i) {
    result.row(static_cast<Index>(i)) = values.row(rows[i]);
  }
  return result;
}

// Fisher-Yates shuffle driven by metnet::Rng, reproducible on every platform.
inline void shuffle(std::vector<Index>& values, Rng& rng) {
  for (std::size_t i = values.size(); i > 1; --i) {
    const auto j = static_cast<std::size_t>(rng.uniform_index(i));
    std::swap(values[i - 1], values[j]);
  }
}

inline void check_event_weights(const Vector<float>& weights, const std::string& column) {
  for (Index i = 0; i < weights.size(); ++i) {
    if (!std::isfinite(weights(i)) || weights(i) < 0.0f) {
      throw NumericError("event weight column '" + column + "', row " + std::to_string(i) + " is " +
                         std::to_string(weights(i)) + ", expected a finite value >= 0");
    }
  }
}

// Scales the weights to mean 1. Throws ConfigError if they sum to 0.
inline void normalise_mean(Vector<float>& weights, const char* part) {
  const double sum = weights.template cast<double>().sum();
  if (!(sum > 0.0)) {
    throw ConfigError(std::string("MetNet::fit: the ") + part +
                      " event weights sum to 0; at least one event needs a positive weight");
  }
  weights *= static_cast<float>(static_cast<double>(weights.size()) / sum);
}

// Rejects a table whose energies look like MeV. A mean sum-ET input above
// 50 TeV is far beyond any LHC event sample in GeV (ATLAS ttbar has a Tight
// sum ET of about 0.4 TeV) but typical of MeV ntuples.
inline void check_energy_scale(const EventTable& table, const std::vector<std::string>& inputs) {
  constexpr double max_mean_sum_et = 5e4;  // GeV
  if (table.rows() == 0) {
    throw FormatError("the event table is empty; expected at least one event");
  }
  for (const std::string& name : inputs) {
    if (name.find("SumET") == std::string::npos || !table.has_column(name)) {
      continue;
    }
    const double mean = table.column(name).template cast<double>().mean();
    if (mean > max_mean_sum_et) {
      throw ConfigError("column '" + name + "' has a mean of " + std::to_string(mean) +
                        " GeV, far above any collision sample in GeV; the file looks like MeV: "
                        "read it with the MeV unit option (energies are scaled by 1e-3)");
    }
  }
}

// Copies stored weights into a network of the same shape, parameter by
// parameter (both lists come from Mlp and share its order).
inline void assign_parameters(Mlp<float>& network, const MlpWeights<float>& weights) {
  Mlp<float> source(weights);
  const ParameterList<float> from = source.parameters();
  const ParameterList<float> to = network.parameters();
  for (std::size_t k = 0; k < to.size(); ++k) {
    to[k]->value = from[k]->value;
  }
}

inline void resize_prediction(MetPrediction& prediction, Index n) {
  prediction.px.resize(n);
  prediction.py.resize(n);
  prediction.pt.resize(n);
  prediction.phi.resize(n);
}

inline void resize_prediction(MetPredictionWithUncertainty& prediction, Index n) {
  resize_prediction(static_cast<MetPrediction&>(prediction), n);
  prediction.sigma_x.resize(n);
  prediction.sigma_y.resize(n);
  prediction.sigma.resize(n);
  prediction.significance.resize(n);
}

inline void store_prediction(MetPrediction& prediction, Index i, const EventMet& event) {
  prediction.px(i) = event.px;
  prediction.py(i) = event.py;
  prediction.pt(i) = event.pt;
  prediction.phi(i) = event.phi;
}

inline void store_prediction(MetPredictionWithUncertainty& prediction, Index i, const EventMetWithUncertainty& event) {
  store_prediction(static_cast<MetPrediction&>(prediction), i, static_cast<const EventMet&>(event));
  prediction.sigma_x(i) = event.sigma_x;
  prediction.sigma_y(i) = event.sigma_y;
  prediction.sigma(i) = event.sigma;
  prediction.significance(i) = event.significance;
}

}  // namespace metnet::detail
