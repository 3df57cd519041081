// SPDX-License-Identifier: MIT
#pragma once
// Writes a trained METNet model as a self-contained C++ header: the weights
// and preprocessing constants as constexpr arrays, the network as a
// metnet::FixedMlp whose sizes are template arguments, and
//   void predict(const float* event_columns, float* met_xy);
// which reads one event in MetNet::event_columns() order (GeV) and writes the
// MET (px, py) in GeV in the detector frame. The generated code needs no JSON
// library and allocates nothing; it gives the outputs of MetNet::predict_event
// (same rotation, standardisation and kernels, in the same precision).
//
//   std::ofstream out("metnet_model.hpp");
//   metnet::write_header(document, out, "my_analysis::metnet_model");
//
// The header includes metnet/inference/fixed_mlp.hpp and
// metnet/data/rotation.hpp, so the metnet include folder and Eigen must be on
// the include path. Test vectors of the document are embedded as
// test_vector_inputs and test_vector_outputs.
// Left out: models with no hidden layer (FixedMlp needs one) and the Gaussian
// NLL head (four outputs); both raise ConfigError.

#include <charconv>
#include <cmath>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "metnet/core/error.hpp"
#include "metnet/core/types.hpp"
#include "metnet/data/feature_schema.hpp"
#include "metnet/model/model_document.hpp"

namespace metnet {

namespace detail {

// The shortest literal that reads back to the same float ("1.5f", "-2e-07f").
inline std::string float_literal(float value) {
  char buffer[32];
  const auto result = std::to_chars(buffer, buffer + sizeof buffer, value);
  std::string text(buffer, result.ptr);
  if (text.find_first_of(".e") == std::string::npos) {
    text += ".0";
  }
  return text + "f";
}

// The shortest literal that reads back to the same double.
inline std::string double_literal(double value) {
  char buffer[32];
  const auto result = std::to_chars(buffer, buffer + sizeof buffer, value);
  std::string text(buffer, result.ptr);
  if (text.find_first_of(".e") == std::string::npos) {
    text += ".0";
  }
  return text;
}

// `inline constexpr std::array<Type, N> name = {...};`, eight values per line.
template <class Values, class Format>
void write_array(std::ostream& out, std::string_view type, std::string_view name, const Values& values, Index size,
                 Format format) {
  out << "inline constexpr std::array<" << type << ", " << size << "> " << name << " = {";
  for (Index i = 0; i < size; ++i) {
    out << (i % 8 == 0 ? "\n    " : " ") << format(values(i)) << (i + 1 < size ? "," : "");
  }
  out << "};\n";
}

template <class Derived>
void write_floats(std::ostream& out, std::string_view name, const Eigen::DenseBase<Derived>& values) {
  // Row-major order for matrices: output row by output row, as torch stores Linear weights.
  const Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> row_major = values.template cast<float>();
  const auto flat = [&row_major](Index i) { return row_major.data()[i]; };
  write_array(out, "float", name, flat, row_major.size(), float_literal);
}

template <class Derived>
void write_doubles(std::ostream& out, std::string_view name, const Eigen::DenseBase<Derived>& values) {
  const Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> row_major = values.template cast<double>();
  const auto flat = [&row_major](Index i) { return row_major.data()[i]; };
  write_array(out, "double", name, flat, row_major.size(), double_literal);
}

inline std::string quoted(const std::string& text) {
  std::string result = "\"";
  for (const char c : text) {
    if (c == '"' || c == '\\') {
      result += '\\';
    }
    result += c;
  }
  return result + "\"";
}

inline void check_namespace(const std::string& name) {
  bool valid = !name.empty();
  bool start = true;
  for (std::size_t i = 0; i < name.size() && valid; ++i) {
    const char c = name[i];
    if (c == ':' && i + 1 < name.size() && name[i + 1] == ':' && !start) {
      ++i;
      start = true;
      continue;
    }
    const bool letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
    const bool digit = c >= '0' && c <= '9';
    valid = letter || (digit && !start);
    start = false;
  }
  if (!valid || start) {
    throw ConfigError("write_header: '" + name + "' is not a C++ namespace name; use identifiers joined by ::, "
                      "such as my_analysis::metnet_model");
  }
}

}  // namespace detail

// Writes the header of `document` into `out`, in namespace `name_space`.
// Throws ConfigError on an invalid namespace, a model without hidden layer,
// a network with other than two outputs or a non-finite value, and what
// ModelDocument::validate throws.
inline void write_header(const ModelDocument& document, std::ostream& out, const std::string& name_space) {
  document.validate();
  detail::check_namespace(name_space);
  const MlpConfig& config = document.network.config;
  if (config.hidden_layers < 1) {
    throw ConfigError("write_header: the network has no hidden layer; metnet::FixedMlp needs at least one");
  }
  if (config.outputs != 2) {
    throw ConfigError("write_header: the network has " + std::to_string(config.outputs) +
                      " outputs; header export supports (px, py) models, not the Gaussian NLL head");
  }
  if (config.layer_norm && !(config.layer_norm_eps > 0.0)) {
    throw ConfigError("write_header: layer_norm_eps must be positive, found " + std::to_string(config.layer_norm_eps));
  }
  const FeatureSchema& schema = document.schema;
  const std::vector<std::string> columns = schema.required_columns(false);
  const std::vector<VectorPair> pairs = schema.rotate ? find_vector_pairs(schema.inputs) : std::vector<VectorPair>{};
  const VectorPair target = find_vector_pairs(schema.targets).front();
  const auto inputs = static_cast<Index>(schema.inputs.size());
  Index reference_x = 0;
  Index reference_y = 0;
  if (schema.rotate || schema.residual) {
    reference_x = detail::find_name(columns, schema.reference_x());
    reference_y = detail::find_name(columns, schema.reference_y());
  }

  out << "// Generated by metnet::write_header (metnet/inference/header_export.hpp); do not edit.\n"
      << "// METNet model: " << inputs << " inputs, " << config.hidden_layers << " hidden layers of " << config.width
      << " (" << to_string(config.activation) << (config.layer_norm ? ", LayerNorm" : "") << "), loss '"
      << document.loss.name << "'.\n";
  if (!document.weights_hash.empty()) {
    out << "// Weights hash: " << document.weights_hash << "\n";
  }
  out << "#pragma once\n\n#include <array>\n\n#include \"metnet/data/rotation.hpp\"\n"
      << "#include \"metnet/inference/fixed_mlp.hpp\"\n\nnamespace " << name_space << " {\n\n";

  out << "// Columns that predict() reads, in order (GeV for energies).\n"
      << "inline constexpr std::array<const char*, " << columns.size() << "> event_columns = {";
  for (std::size_t i = 0; i < columns.size(); ++i) {
    out << (i % 4 == 0 ? "\n    " : " ") << detail::quoted(columns[i]) << (i + 1 < columns.size() ? "," : "");
  }
  out << "};\n\n";

  for (std::size_t i = 0; i < document.network.linear.size(); ++i) {
    const auto& layer = document.network.linear[i];
    detail::write_floats(out, "layer_" + std::to_string(i) + "_weight", layer.weight);
    detail::write_floats(out, "layer_" + std::to_string(i) + "_bias", layer.bias);
  }
  for (std::size_t i = 0; i < document.network.norm.size(); ++i) {
    detail::write_floats(out, "norm_" + std::to_string(i) + "_gamma", document.network.norm[i].gamma);
    detail::write_floats(out, "norm_" + std::to_string(i) + "_beta", document.network.norm[i].beta);
  }

  RowVector<double> input_scale(inputs);
  for (Index k = 0; k < inputs; ++k) {
    input_scale(k) = document.input_scaling.scale(k);
  }
  const RowVector<double> target_mean{{document.target_scaling.mean()(target.x), document.target_scaling.mean()(target.y)}};
  const RowVector<double> target_scale{{document.target_scaling.scale(target.x), document.target_scaling.scale(target.y)}};
  out << "\n// Standardisation z = (value - mean) / scale, and the target's inverse.\n";
  detail::write_doubles(out, "input_mean", document.input_scaling.mean());
  detail::write_doubles(out, "input_scale", input_scale);
  detail::write_doubles(out, "target_mean", target_mean);
  detail::write_doubles(out, "target_scale", target_scale);

  out << "\n// Rotation: every (x, y) input pair turns by minus the azimuth of the reference MET.\n"
      << "inline constexpr bool rotate = " << (schema.rotate ? "true" : "false") << ";\n"
      << "// Residual targets: the network predicts the true MET minus the reference MET.\n"
      << "inline constexpr bool residual = " << (schema.residual ? "true" : "false") << ";\n"
      << "inline constexpr int reference_x = " << reference_x << ";  // " << schema.reference_x() << "\n"
      << "inline constexpr int reference_y = " << reference_y << ";  // " << schema.reference_y() << "\n"
      << "inline constexpr std::array<int, " << pairs.size() << "> pair_x = {";
  for (std::size_t i = 0; i < pairs.size(); ++i) {
    out << (i ? ", " : "") << pairs[i].x;
  }
  out << "};\ninline constexpr std::array<int, " << pairs.size() << "> pair_y = {";
  for (std::size_t i = 0; i < pairs.size(); ++i) {
    out << (i ? ", " : "") << pairs[i].y;
  }
  out << "};\ninline constexpr int target_x = " << target.x << ";\ninline constexpr int target_y = " << target.y
      << ";\n\n";

  const TestVectors& vectors = document.test_vectors;
  out << "// Test vectors: events in event_columns order and the (px, py) in GeV the producer computed.\n"
      << "inline constexpr int test_vector_count = " << vectors.inputs.rows() << ";\n";
  detail::write_floats(out, "test_vector_inputs", vectors.inputs);
  detail::write_doubles(out, "test_vector_outputs", vectors.outputs);

  const std::string network_type = "metnet::FixedMlp<" + std::to_string(inputs) + ", " + std::to_string(config.width) +
                                   ", " + std::to_string(config.hidden_layers) + ", " +
                                   std::to_string(config.outputs) + ">";
  const auto list = [&out](std::string_view prefix, std::string_view suffix, Index count) {
    out << "{";
    for (Index i = 0; i < count; ++i) {
      out << (i ? ", " : "") << prefix << i << suffix << ".data()";
    }
    out << "}";
  };
  out << "\nusing Network = " << network_type << ";\n\n"
      << "// The packed network, built on first use (static storage, no heap allocation).\n"
      << "inline const Network& network() {\n  static const Network instance(\n      std::array<const float*, "
      << config.hidden_layers + 1 << ">";
  list("layer_", "_weight", config.hidden_layers + 1);
  out << ",\n      std::array<const float*, " << config.hidden_layers + 1 << ">";
  list("layer_", "_bias", config.hidden_layers + 1);
  out << ",\n      std::array<const float*, " << config.hidden_layers << ">";
  if (config.layer_norm) {
    list("norm_", "_gamma", config.hidden_layers);
  } else {
    out << "{}";
  }
  out << ",\n      std::array<const float*, " << config.hidden_layers << ">";
  if (config.layer_norm) {
    list("norm_", "_beta", config.hidden_layers);
  } else {
    out << "{}";
  }
  out << ",\n      metnet::Activation::" << to_string(config.activation) << ", "
      << (config.layer_norm ? "true" : "false") << ", " << detail::double_literal(config.layer_norm_eps) << ");\n"
      << "  return instance;\n}\n\n";

  out << "// Predicts the MET (px, py) in GeV, detector frame, of one event given in event_columns order.\n"
      << "inline void predict(const float* event_columns, float* met_xy) {\n"
      << "  double angle = 0.0;\n"
      << "  if constexpr (rotate) {\n"
      << "    angle = metnet::rotation_angle(static_cast<double>(event_columns[reference_x]),\n"
      << "                                   static_cast<double>(event_columns[reference_y]));\n"
      << "  }\n"
      << "  std::array<float, " << inputs << "> input;\n"
      << "  for (std::size_t k = 0; k < input.size(); ++k) {\n"
      << "    input[k] = event_columns[k];\n"
      << "  }\n"
      << "  for (std::size_t p = 0; p < pair_x.size(); ++p) {\n"
      << "    const auto turned = metnet::rotate_to_reference<double>(input[pair_x[p]], input[pair_y[p]], angle);\n"
      << "    input[pair_x[p]] = static_cast<float>(turned.x);\n"
      << "    input[pair_y[p]] = static_cast<float>(turned.y);\n"
      << "  }\n"
      << "  for (std::size_t k = 0; k < input.size(); ++k) {\n"
      << "    input[k] = static_cast<float>((input[k] - input_mean[k]) / input_scale[k]);\n"
      << "  }\n"
      << "  std::array<float, " << config.outputs << "> raw;\n"
      << "  network().predict(input.data(), raw.data());\n"
      << "  double par = raw[target_x] * target_scale[0] + target_mean[0];\n"
      << "  double perp = raw[target_y] * target_scale[1] + target_mean[1];\n"
      << "  if constexpr (residual) {\n"
      << "    const auto reference = metnet::rotate_to_reference<double>(event_columns[reference_x],\n"
      << "                                                           event_columns[reference_y], angle);\n"
      << "    par += reference.x;\n"
      << "    perp += reference.y;\n"
      << "  }\n"
      << "  const auto detector = metnet::rotate_from_reference(par, perp, angle);\n"
      << "  met_xy[0] = static_cast<float>(detector.x);\n"
      << "  met_xy[1] = static_cast<float>(detector.y);\n"
      << "}\n\n}  // namespace " << name_space << "\n";
  if (!out) {
    throw IoError("write_header: writing the header failed");
  }
}

}  // namespace metnet
