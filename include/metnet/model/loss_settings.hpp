// SPDX-License-Identifier: MIT
#pragma once
// Conversion between the loss objects and the LossSettings stored in a
// weights file (name plus numeric parameters), so that a loaded model records
// how it was trained and a model loaded as MetNet<Huber> cannot silently be
// a Gaussian NLL network.
//
// Parameter names: Huber "delta"; Sinkhorn "epsilon", "annealing_factor",
// "max_iterations", "tolerance", "weighted_marginals" (0 or 1),
// "compared_columns" (0 for all); GaussianNll "eps", "full" (0 or 1); a Sum
// stores its parts with the prefixes "first." and "second." and "lambda".

#include <string>

#include "metnet/core/error.hpp"
#include "metnet/loss/gaussian_nll.hpp"
#include "metnet/loss/huber.hpp"
#include "metnet/loss/sinkhorn.hpp"
#include "metnet/loss/sum.hpp"
#include "metnet/model/model_document.hpp"

namespace metnet {

namespace detail {

inline double loss_parameter(const LossSettings& settings, const std::string& key) {
  const auto it = settings.parameters.find(key);
  if (it == settings.parameters.end()) {
    throw FormatError("loss '" + settings.name + "': missing parameter '" + key + "'; the weights file is incomplete, re-save it with this version");
  }
  return it->second;
}

inline void write_parameters(LossSettings& settings, const Huber& loss, const std::string& prefix) {
  settings.parameters[prefix + "delta"] = loss.delta;
}

inline void write_parameters(LossSettings& settings, const Sinkhorn& loss, const std::string& prefix) {
  settings.parameters[prefix + "epsilon"] = loss.epsilon;
  settings.parameters[prefix + "annealing_factor"] = loss.annealing_factor;
  settings.parameters[prefix + "max_iterations"] = static_cast<double>(loss.max_iterations);
  settings.parameters[prefix + "tolerance"] = loss.tolerance;
  settings.parameters[prefix + "weighted_marginals"] = loss.weighted_marginals ? 1.0 : 0.0;
  settings.parameters[prefix + "compared_columns"] = static_cast<double>(loss.compared_columns);
}

inline void write_parameters(LossSettings& settings, const GaussianNll& loss, const std::string& prefix) {
  settings.parameters[prefix + "eps"] = loss.eps;
  settings.parameters[prefix + "full"] = loss.constant == NllConstant::included ? 1.0 : 0.0;
}

template <Loss First, Loss Second>
void write_parameters(LossSettings& settings, const Sum<First, Second>& loss, const std::string& prefix) {
  write_parameters(settings, loss.first, prefix + "first.");
  write_parameters(settings, loss.second, prefix + "second.");
  settings.parameters[prefix + "lambda"] = loss.lambda;
}

inline void read_parameters(const LossSettings& settings, Huber& loss, const std::string& prefix) {
  loss.delta = loss_parameter(settings, prefix + "delta");
}

inline void read_parameters(const LossSettings& settings, Sinkhorn& loss, const std::string& prefix) {
  loss.epsilon = loss_parameter(settings, prefix + "epsilon");
  loss.annealing_factor = loss_parameter(settings, prefix + "annealing_factor");
  loss.max_iterations = static_cast<Index>(loss_parameter(settings, prefix + "max_iterations"));
  loss.tolerance = loss_parameter(settings, prefix + "tolerance");
  // Files written before this parameter existed used weighted marginals.
  const auto marginals = settings.parameters.find(prefix + "weighted_marginals");
  loss.weighted_marginals = marginals == settings.parameters.end() || marginals->second != 0.0;
  // Files written before this parameter existed compared all columns.
  const auto columns = settings.parameters.find(prefix + "compared_columns");
  loss.compared_columns = columns == settings.parameters.end() ? 0 : static_cast<Index>(columns->second);
}

inline void read_parameters(const LossSettings& settings, GaussianNll& loss, const std::string& prefix) {
  loss.eps = loss_parameter(settings, prefix + "eps");
  loss.constant = loss_parameter(settings, prefix + "full") != 0.0 ? NllConstant::included : NllConstant::omitted;
}

template <Loss First, Loss Second>
void read_parameters(const LossSettings& settings, Sum<First, Second>& loss, const std::string& prefix) {
  read_parameters(settings, loss.first, prefix + "first.");
  read_parameters(settings, loss.second, prefix + "second.");
  loss.lambda = loss_parameter(settings, prefix + "lambda");
}

}  // namespace detail

// The settings that describe `loss` in a weights file.
template <Loss L>
LossSettings loss_settings(const L& loss) {
  LossSettings settings;
  settings.name = std::string(L::name());
  detail::write_parameters(settings, loss, "");
  return settings;
}

// Rebuilds a loss of type L from stored settings. Throws ConfigError when the
// file was trained with another loss, FormatError on a missing parameter.
template <Loss L>
L loss_from_settings(const LossSettings& settings) {
  if (settings.name != L::name()) {
    throw ConfigError("the weights were trained with the loss '" + settings.name + "', but the model type uses '" +
                      std::string(L::name()) + "'; load them as the matching MetNet type");
  }
  L loss{};
  detail::read_parameters(settings, loss, "");
  return loss;
}

}  // namespace metnet
