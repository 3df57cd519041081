// SPDX-License-Identifier: MIT
#pragma once
// `metnet inspect`: prints what a weights file contains: format version,
// features, reference working point and rotation, network shape and
// parameter count, loss and its parameters, sample-weight settings and the
// training metadata.

#include <filesystem>
#include <iostream>
#include <memory>
#include <ostream>
#include <string>

#include <CLI/CLI.hpp>

#include "../common.hpp"
#include "metnet/io/model_json.hpp"
#include "metnet/model/verification.hpp"

namespace metnet::cli {

// Number of trainable values: weights, biases and layer-norm gains and shifts.
inline Index parameter_count(const MlpWeights<float>& network) {
  Index count = 0;
  for (const LinearWeights<float>& layer : network.linear) {
    count += layer.weight.size() + layer.bias.size();
  }
  for (const LayerNormWeights<float>& norm : network.norm) {
    count += norm.gamma.size() + norm.beta.size();
  }
  return count;
}

// Writes the human-readable summary of a weights document; `show_all`
// lists every feature name instead of the first and last few.
inline void describe_document(std::ostream& out, const ModelDocument& document, const std::string& source,
                              bool show_all) {
  const FeatureSchema& schema = document.schema;
  const MlpConfig& config = document.network.config;
  out << "file            " << source << '\n';
  out << "format          " << model_json_format << " version " << ModelDocument::format_version << '\n';

  out << "features        " << schema.inputs.size() << " inputs\n";
  const std::size_t shown = show_all ? schema.inputs.size() : std::min<std::size_t>(schema.inputs.size(), 8);
  for (std::size_t i = 0; i < schema.inputs.size(); ++i) {
    if (i == shown / 2 && shown < schema.inputs.size()) {
      out << "                  ... " << schema.inputs.size() - shown << " more (--all lists them)\n";
      i = schema.inputs.size() - shown / 2 - 1;
      continue;
    }
    out << "                  " << i << ": " << schema.inputs[i] << '\n';
  }
  out << "targets         " << schema.targets[0] << (schema.targets.size() > 1 ? ", " + schema.targets[1] : "") << '\n';
  out << "reference       " << schema.reference << '\n';
  out << "rotation        " << (schema.rotate ? "on (events turned so the reference MET lies along +x)" : "off") << '\n';

  out << "network         " << config.inputs << " inputs, " << config.hidden_layers << " hidden layers x "
      << config.width << ", " << to_string(config.activation)
      << (config.layer_norm ? ", layer norm (eps " + std::to_string(config.layer_norm_eps) + ")" : "") << ", "
      << config.outputs << " outputs\n";
  out << "parameters      " << parameter_count(document.network) << '\n';

  out << "loss            " << document.loss.name << '\n';
  for (const auto& [name, value] : document.loss.parameters) {
    out << "                  " << name << " = " << value << '\n';
  }

  const TruthWeightSettings& weights = document.sample_weights;
  if (document.use_sample_weights) {
    out << "sample weights  1 / true-MET histogram, " << weights.bins << " bins over [" << weights.low << ", "
        << weights.high << "] GeV, " << (weights.cap ? "capped" : "not capped") << ", flat up to "
        << weights.weight_to << " GeV";
    if (weights.weight_from > weights.low) {
      out << ", flat below " << weights.weight_from << " GeV";
    }
    out << '\n';
  } else {
    out << "sample weights  off\n";
  }

  out << "metadata" << (document.metadata.empty() ? "        none" : "") << '\n';
  for (const auto& [key, value] : document.metadata) {
    out << "                  " << key << ": " << value << '\n';
  }
}

struct InspectArguments {
  std::filesystem::path weights;
  bool show_all = false;
  bool verify = false;
};

// Writes the result of metnet::verify; throws NumericError when it fails.
inline void report_verification(std::ostream& out, const ModelDocument& document) {
  const VerificationReport report = metnet::verify(document);
  out << "weights hash    " << report.computed_hash
      << (report.has_hash ? (report.hash_matches ? " (matches the stored hash)" : " (stored " + report.stored_hash + ")")
                          : " (the file stores none)")
      << '\n';
  out << "test vectors    " << report.vectors << " replayed, " << report.failed << " failed";
  if (report.vectors > 0) {
    out << ", worst deviation " << report.worst << " x tolerance";
  }
  out << '\n';
  for (const std::string& message : report.messages) {
    out << "                  " << message << '\n';
  }
  if (!report.passed()) {
    throw NumericError("verification failed: " + std::to_string(report.failed) + " of " +
                       std::to_string(report.vectors) + " test vectors differ" +
                       (report.has_hash && !report.hash_matches ? " and the weights hash differs" : ""));
  }
}

inline void add_inspect_command(CLI::App& app) {
  auto arguments = std::make_shared<InspectArguments>();
  CLI::App* command = app.add_subcommand("inspect", "Print what a METNet weights file contains");
  command->add_option("weights", arguments->weights, "Weights file (.json)")->required();
  command->add_flag("--all", arguments->show_all, "List every input feature");
  command->add_flag("--verify", arguments->verify,
                    "Check the weights hash and replay the stored test vectors; exit with 2 if they fail");
  command->callback([arguments] {
    const ModelDocument document = load_model_json(arguments->weights);
    describe_document(std::cout, document, arguments->weights.string(), arguments->show_all);
    if (arguments->verify) {
      report_verification(std::cout, document);
    }
  });
}

}  // namespace metnet::cli
