// SPDX-License-Identifier: MIT
#pragma once
// Everything a METNet weights file stores, as a plain struct: the feature
// schema, the input and target standardisation, the network weights, the
// loss, the sample-weight settings and free-form training metadata.
//
// The facade (model/metnet.hpp) builds one after training and rebuilds a
// model from one; io/model_json.hpp writes and reads it as JSON. This header
// needs Eigen alone and does no file I/O.

#include <map>
#include <string>
#include <vector>

#include "metnet/core/error.hpp"
#include "metnet/core/types.hpp"
#include "metnet/data/feature_schema.hpp"
#include "metnet/data/standardiser.hpp"
#include "metnet/data/truth_weights.hpp"
#include "metnet/nn/mlp_weights.hpp"

namespace metnet {

namespace detail {

// "74 columns ('Tight_Final_ET' ... 'Sum_JetPU')" for messages.
inline std::string describe_columns(const std::vector<std::string>& names) {
  std::string text = std::to_string(names.size()) + " columns";
  if (!names.empty()) {
    text += " ('" + names.front() + "' ... '" + names.back() + "')";
  }
  return text;
}

}  // namespace detail

// The training loss by name, with its numeric parameters (for example
// {"delta": 1.5} for Huber, {"epsilon": 1e-6} for the Gaussian NLL).
struct LossSettings {
  std::string name;
  std::map<std::string, double> parameters;

  friend bool operator==(const LossSettings&, const LossSettings&) = default;
};

// Events that a weights file carries to check itself: inputs in the order of
// MetNet::event_columns() (GeV) and the MET (px, py) in GeV that the producer
// computed for them. model/verification.hpp replays them.
struct TestVectors {
  Matrix<float> inputs;    // events x event columns
  Matrix<double> outputs;  // events x 2: px, py

  bool empty() const noexcept { return inputs.rows() == 0; }

  friend bool operator==(const TestVectors& a, const TestVectors& b) {
    return a.inputs.rows() == b.inputs.rows() && a.inputs.cols() == b.inputs.cols() &&
           a.outputs.rows() == b.outputs.rows() && a.outputs.cols() == b.outputs.cols() && a.inputs == b.inputs &&
           a.outputs == b.outputs;
  }
};

struct ModelDocument {
  // Version of the stored layout; io/model_json.hpp rejects other versions.
  static constexpr int format_version = 1;

  FeatureSchema schema;
  Standardiser input_scaling;   // one column per schema.inputs entry, same order
  Standardiser target_scaling;  // one column per schema.targets entry, same order
  MlpWeights<float> network;
  LossSettings loss;
  bool use_sample_weights = true;
  TruthWeightSettings sample_weights;
  // Training provenance, e.g. "command", "seed", "events", "git_revision", "date".
  std::map<std::string, std::string> metadata;
  // Optional self-check: test vectors and a hash of the weights such as
  // "fnv1a64:0123456789abcdef" (see model/verification.hpp); empty when absent.
  TestVectors test_vectors;
  std::string weights_hash;

  // Checks that the parts agree: the schema is valid, the standardisers carry
  // the schema's names in order, the network shapes match its config, the
  // network reads one value per input and writes a whole number of values per
  // target. Throws ConfigError or ShapeError naming the part.
  void validate() const {
    schema.validate();
    if (input_scaling.names() != schema.inputs) {
      throw ConfigError("model document: the input standardisation covers " + detail::describe_columns(input_scaling.names()) +
                        ", expected the schema's inputs " + detail::describe_columns(schema.inputs));
    }
    if (target_scaling.names() != schema.targets) {
      throw ConfigError("model document: the target standardisation covers " + detail::describe_columns(target_scaling.names()) +
                        ", expected the schema's targets " + detail::describe_columns(schema.targets));
    }
    network.validate();
    const auto inputs = static_cast<Index>(schema.inputs.size());
    const auto targets = static_cast<Index>(schema.targets.size());
    if (network.config.inputs != inputs) {
      throw ShapeError("model document: the network reads " + std::to_string(network.config.inputs) +
                       " inputs, expected " + std::to_string(inputs) + " (one per schema input)");
    }
    if (network.config.outputs % targets != 0) {
      throw ShapeError("model document: the network writes " + std::to_string(network.config.outputs) +
                       " outputs, expected a multiple of the " + std::to_string(targets) + " targets");
    }
    if (loss.name.empty()) {
      throw ConfigError("model document: the loss has no name; set loss.name (e.g. \"huber\")");
    }
    if (use_sample_weights) {
      sample_weights.validate();
    }
    if (!test_vectors.empty()) {
      const auto columns = static_cast<Index>(schema.required_columns(false).size());
      if (test_vectors.inputs.cols() != columns || test_vectors.outputs.cols() != 2 ||
          test_vectors.outputs.rows() != test_vectors.inputs.rows()) {
        throw ShapeError("model document: the test vectors have " + std::to_string(test_vectors.inputs.rows()) + "x" +
                         std::to_string(test_vectors.inputs.cols()) + " inputs and " +
                         std::to_string(test_vectors.outputs.rows()) + "x" +
                         std::to_string(test_vectors.outputs.cols()) + " outputs, expected one row per event of " +
                         std::to_string(columns) + " event columns and of 2 outputs (px, py)");
      }
    }
  }
};

}  // namespace metnet
