// SPDX-License-Identifier: MIT
#pragma once
// Saving and loading a ModelDocument as a versioned JSON weights file.
//
// Layout (format "metnet-weights", version 1):
//   format, version                 "metnet-weights", 1
//   features                        {inputs: [names], targets: [names], reference: "Tight_Final", rotate: bool,
//                                    residual: bool (optional, false when absent)}
//   standardisation                 {inputs: {mean: [...], std: [...]}, targets: {mean: [...], std: [...]}}
//   network                         {inputs, outputs, hidden_layers, width, activation, layer_norm, layer_norm_eps}
//   layers                          [{weight: [[...] per output], bias: [...]}], hidden layers then the output head
//   layer_norms                     [{gamma: [...], beta: [...]}], one per hidden layer when layer_norm is on
//   loss                            {name, parameters: {name: number}}
//   sample_weights                  {enabled, bins, low, high, cap, weight_to, weight_from}
//   metadata                        {key: string}
//   test_vectors (optional)         {inputs: [[...] per event, event_columns() order], outputs: [[px, py] per event]}
//   weights_hash (optional)         "fnv1a64:<16 hex digits>" (model/verification.hpp)
// Numbers round-trip bit-exactly: nlohmann_json prints doubles with the
// shortest text that parses back to the same double (its Grisu2-based
// to_chars), float32 weights are widened to double exactly and narrowed back
// exactly, and -0.0 and subnormals keep their bits.
// JSON has no NaN or Inf, and nlohmann_json writes them as null; saving
// therefore rejects non-finite values, and loading rejects null, naming the
// JSON pointer. Loading checks every key (unknown keys are errors), type,
// name and shape, with messages such as
//   weights.json:/layers/2/weight: expected 64x16 (layer 1 has 16 outputs), found 64x32
// Files are written through a temporary file and a rename.

#include <cmath>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <limits>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "metnet/core/error.hpp"
#include "metnet/data/atomic_file.hpp"
#include "metnet/model/model_document.hpp"

namespace metnet {

using Json = nlohmann::ordered_json;

inline constexpr std::string_view model_json_format = "metnet-weights";

namespace detail {

// Builds the JSON of a document, rejecting non-finite numbers.
class ModelJsonWriter {
 public:
  Json write(const ModelDocument& doc) {
    Json root;
    root["format"] = std::string(model_json_format);
    root["version"] = ModelDocument::format_version;

    root["features"] = {{"inputs", doc.schema.inputs},
                        {"targets", doc.schema.targets},
                        {"reference", doc.schema.reference},
                        {"rotate", doc.schema.rotate}};
    if (doc.schema.residual) {
      root["features"]["residual"] = true;
    }
    root["standardisation"] = {{"inputs", scaling(doc.input_scaling, "/standardisation/inputs")},
                               {"targets", scaling(doc.target_scaling, "/standardisation/targets")}};

    const MlpConfig& c = doc.network.config;
    root["network"] = {{"inputs", c.inputs},
                       {"outputs", c.outputs},
                       {"hidden_layers", c.hidden_layers},
                       {"width", c.width},
                       {"activation", std::string(to_string(c.activation))},
                       {"layer_norm", c.layer_norm},
                       {"layer_norm_eps", finite(c.layer_norm_eps, "/network/layer_norm_eps")}};
    Json layers = Json::array();
    for (std::size_t i = 0; i < doc.network.linear.size(); ++i) {
      const std::string at = "/layers/" + std::to_string(i);
      const auto& layer = doc.network.linear[i];
      layers.push_back({{"weight", matrix(layer.weight, at + "/weight")}, {"bias", row(layer.bias, at + "/bias")}});
    }
    root["layers"] = std::move(layers);
    Json norms = Json::array();
    for (std::size_t i = 0; i < doc.network.norm.size(); ++i) {
      const std::string at = "/layer_norms/" + std::to_string(i);
      const auto& norm = doc.network.norm[i];
      norms.push_back({{"gamma", row(norm.gamma, at + "/gamma")}, {"beta", row(norm.beta, at + "/beta")}});
    }
    root["layer_norms"] = std::move(norms);

    Json parameters = Json::object();
    for (const auto& [name, value] : doc.loss.parameters) {
      parameters[name] = finite(value, "/loss/parameters/" + name);
    }
    root["loss"] = {{"name", doc.loss.name}, {"parameters", std::move(parameters)}};
    const TruthWeightSettings& s = doc.sample_weights;
    root["sample_weights"] = {{"enabled", doc.use_sample_weights},
                              {"bins", s.bins},
                              {"low", finite(s.low, "/sample_weights/low")},
                              {"high", finite(s.high, "/sample_weights/high")},
                              {"cap", s.cap},
                              {"weight_to", finite(s.weight_to, "/sample_weights/weight_to")},
                              {"weight_from", finite(s.weight_from, "/sample_weights/weight_from")}};
    root["metadata"] = doc.metadata;
    if (!doc.test_vectors.empty()) {
      root["test_vectors"] = {{"inputs", matrix(doc.test_vectors.inputs, "/test_vectors/inputs")},
                              {"outputs", matrix(doc.test_vectors.outputs, "/test_vectors/outputs")}};
    }
    if (!doc.weights_hash.empty()) {
      root["weights_hash"] = doc.weights_hash;
    }
    return root;
  }

 private:
  static double finite(double value, const std::string& pointer) {
    if (!std::isfinite(value)) {
      throw NumericError("cannot save model: " + pointer + " is " + std::to_string(value) +
                         "; JSON has no NaN or Inf (nlohmann_json would write null), so retrain or repair the "
                         "value before saving");
    }
    return value;
  }

  template <class Derived>
  static Json row(const Eigen::MatrixBase<Derived>& values, const std::string& pointer) {
    Json array = Json::array();
    for (Index i = 0; i < values.size(); ++i) {
      array.push_back(finite(static_cast<double>(values(i)), pointer + "/" + std::to_string(i)));
    }
    return array;
  }

  template <class T>
  static Json matrix(const Matrix<T>& values, const std::string& pointer) {
    Json array = Json::array();
    for (Index r = 0; r < values.rows(); ++r) {
      array.push_back(row(values.row(r), pointer + "/" + std::to_string(r)));
    }
    return array;
  }

  static Json scaling(const Standardiser& s, const std::string& pointer) {
    return {{"mean", row(s.mean(), pointer + "/mean")}, {"std", row(s.std(), pointer + "/std")}};
  }
};

// Reads a document from JSON, checking every key, type and shape.
class ModelJsonReader {
 public:
  explicit ModelJsonReader(std::string source) : source_(std::move(source)) {}

  ModelDocument read(const Json& root) {
    expect_keys(root, "", {"format", "version", "features", "standardisation", "network", "layers", "layer_norms",
                           "loss", "sample_weights", "metadata"},
                {"test_vectors", "weights_hash"});
    const std::string format = string(member(root, "", "format"), "/format");
    if (format != model_json_format) {
      fail("/format", "expected \"" + std::string(model_json_format) + "\", found \"" + format +
                          "\"; this is not a metnet weights file");
    }
    const Index version = integer(member(root, "", "version"), "/version");
    if (version != ModelDocument::format_version) {
      fail("/version", "expected " + std::to_string(ModelDocument::format_version) + ", found " +
                           std::to_string(version) + "; convert the file with the metnet version that wrote it");
    }

    ModelDocument doc;
    read_features(member(root, "", "features"), doc.schema);
    read_standardisation(member(root, "", "standardisation"), doc);
    read_network(root, doc.network);
    read_loss(member(root, "", "loss"), doc.loss);
    read_sample_weights(member(root, "", "sample_weights"), doc);
    const Json& metadata = member(root, "", "metadata");
    expect_type(metadata.is_object(), metadata, "/metadata", "an object of strings");
    for (const auto& [key, value] : metadata.items()) {
      doc.metadata[key] = string(value, "/metadata/" + key);
    }
    if (root.contains("test_vectors")) {
      read_test_vectors(root["test_vectors"], doc);
    }
    if (root.contains("weights_hash")) {
      doc.weights_hash = string(root["weights_hash"], "/weights_hash");
    }
    try {
      doc.validate();
    } catch (const Error& e) {
      throw FormatError(source_ + ": " + e.what());
    }
    return doc;
  }

 private:
  [[noreturn]] void fail(const std::string& pointer, const std::string& what) const {
    throw FormatError(source_ + ":" + (pointer.empty() ? "/" : pointer) + ": " + what);
  }

  static std::string type_of(const Json& value) {
    return value.is_null() ? "null" : value.is_number_integer() ? "an integer" : value.is_number() ? "a number"
         : value.is_string() ? "a string" : value.is_boolean() ? "a boolean" : value.is_array() ? "an array"
         : "an object";
  }

  void expect_type(bool ok, const Json& value, const std::string& pointer, const std::string& expected) const {
    if (!ok) {
      fail(pointer, "expected " + expected + ", found " + type_of(value));
    }
  }

  // Checks that `object` has every key of `keys`, may have those of `optional`, and has no other.
  void expect_keys(const Json& object, const std::string& pointer, std::initializer_list<std::string_view> keys,
                   std::initializer_list<std::string_view> optional = {}) const {
    expect_type(object.is_object(), object, pointer, "an object");
    for (const auto& [key, value] : object.items()) {
      bool known = false;
      for (const std::string_view k : keys) {
        known = known || key == k;
      }
      for (const std::string_view k : optional) {
        known = known || key == k;
      }
      if (!known) {
        std::string list;
        for (const std::string_view k : keys) {
          list += (list.empty() ? "" : ", ") + std::string(k);
        }
        for (const std::string_view k : optional) {
          list += ", " + std::string(k);
        }
        fail(pointer + "/" + key, "unknown key; expected one of " + list);
      }
    }
    for (const std::string_view k : keys) {
      if (!object.contains(std::string(k))) {
        fail(pointer + "/" + std::string(k), "missing key");
      }
    }
  }

  const Json& member(const Json& object, const std::string& pointer, const std::string& key) const {
    const auto it = object.find(key);
    if (it == object.end()) {
      fail(pointer + "/" + key, "missing key");
    }
    return *it;
  }

  double number(const Json& value, const std::string& pointer) const {
    if (value.is_null()) {
      fail(pointer, "expected a finite number, found null (nlohmann_json writes NaN and Inf as null); the model "
                    "was saved with a non-finite value and must be retrained or repaired");
    }
    expect_type(value.is_number(), value, pointer, "a number");
    const auto result = value.get<double>();
    if (!std::isfinite(result)) {
      fail(pointer, "expected a finite number, found " + value.dump());
    }
    return result;
  }

  float single(const Json& value, const std::string& pointer) const {
    const double wide = number(value, pointer);
    if (std::abs(wide) > static_cast<double>(std::numeric_limits<float>::max())) {
      fail(pointer, "expected a float32 value, found " + value.dump() + " (beyond 3.4e38)");
    }
    return static_cast<float>(wide);
  }

  Index integer(const Json& value, const std::string& pointer) const {
    expect_type(value.is_number_integer() && value.get<long long>() >= 0, value, pointer, "a non-negative integer");
    return static_cast<Index>(value.get<long long>());
  }

  bool boolean(const Json& value, const std::string& pointer) const {
    expect_type(value.is_boolean(), value, pointer, "true or false");
    return value.get<bool>();
  }

  std::string string(const Json& value, const std::string& pointer) const {
    expect_type(value.is_string(), value, pointer, "a string");
    return value.get<std::string>();
  }

  std::vector<std::string> strings(const Json& value, const std::string& pointer) const {
    expect_type(value.is_array(), value, pointer, "an array of strings");
    std::vector<std::string> result;
    for (std::size_t i = 0; i < value.size(); ++i) {
      result.push_back(string(value[i], pointer + "/" + std::to_string(i)));
    }
    return result;
  }

  // A row of `expected` numbers; `reason` explains the expected length.
  template <class T>
  RowVector<T> row(const Json& value, const std::string& pointer, Index expected, const std::string& reason) const {
    expect_type(value.is_array(), value, pointer, "an array of " + std::to_string(expected) + " numbers");
    if (static_cast<Index>(value.size()) != expected) {
      fail(pointer, "expected " + std::to_string(expected) + " values (" + reason + "), found " +
                        std::to_string(value.size()));
    }
    RowVector<T> result(expected);
    for (Index i = 0; i < expected; ++i) {
      const std::string at = pointer + "/" + std::to_string(i);
      const Json& item = value[static_cast<std::size_t>(i)];
      if constexpr (std::is_same_v<T, float>) {
        result(i) = single(item, at);
      } else {
        result(i) = number(item, at);
      }
    }
    return result;
  }

  Matrix<float> matrix(const Json& value, const std::string& pointer, Index rows, Index cols,
                       const std::string& reason) const {
    const std::string expected = std::to_string(rows) + "x" + std::to_string(cols);
    expect_type(value.is_array(), value, pointer, "a " + expected + " array of arrays");
    const auto found_rows = static_cast<Index>(value.size());
    const Index found_cols = found_rows > 0 && value[0].is_array() ? static_cast<Index>(value[0].size()) : 0;
    if (found_rows != rows || found_cols != cols) {
      fail(pointer, "expected " + expected + " (" + reason + "), found " + std::to_string(found_rows) + "x" +
                        std::to_string(found_cols));
    }
    Matrix<float> result(rows, cols);
    for (Index r = 0; r < rows; ++r) {
      result.row(r) = row<float>(value[static_cast<std::size_t>(r)], pointer + "/" + std::to_string(r), cols,
                                 "every row of a " + expected + " matrix");
    }
    return result;
  }

  void read_features(const Json& features, FeatureSchema& schema) const {
    expect_keys(features, "/features", {"inputs", "targets", "reference", "rotate"}, {"residual"});
    schema.inputs = strings(features["inputs"], "/features/inputs");
    schema.targets = strings(features["targets"], "/features/targets");
    schema.reference = string(features["reference"], "/features/reference");
    schema.rotate = boolean(features["rotate"], "/features/rotate");
    schema.residual = features.contains("residual") && boolean(features["residual"], "/features/residual");
    try {
      schema.validate();
    } catch (const ConfigError& e) {
      fail("/features", e.what());
    }
  }

  Standardiser scaling(const Json& value, const std::string& pointer, const std::vector<std::string>& names,
                       const std::string& what) const {
    expect_keys(value, pointer, {"mean", "std"});
    const auto n = static_cast<Index>(names.size());
    const std::string reason = "one per " + what;
    RowVector<double> mean = row<double>(value["mean"], pointer + "/mean", n, reason);
    RowVector<double> std = row<double>(value["std"], pointer + "/std", n, reason);
    for (Index i = 0; i < n; ++i) {
      if (std(i) < 0.0) {
        fail(pointer + "/std/" + std::to_string(i), "expected a standard deviation >= 0, found " +
                                                      std::to_string(std(i)));
      }
    }
    return Standardiser(names, std::move(mean), std::move(std));
  }

  void read_standardisation(const Json& value, ModelDocument& doc) const {
    expect_keys(value, "/standardisation", {"inputs", "targets"});
    doc.input_scaling = scaling(value["inputs"], "/standardisation/inputs", doc.schema.inputs, "input feature");
    doc.target_scaling = scaling(value["targets"], "/standardisation/targets", doc.schema.targets, "target");
  }

  void read_network(const Json& root, MlpWeights<float>& weights) const {
    const Json& network = member(root, "", "network");
    expect_keys(network, "/network",
                {"inputs", "outputs", "hidden_layers", "width", "activation", "layer_norm", "layer_norm_eps"});
    MlpConfig& c = weights.config;
    c.inputs = integer(network["inputs"], "/network/inputs");
    c.outputs = integer(network["outputs"], "/network/outputs");
    c.hidden_layers = integer(network["hidden_layers"], "/network/hidden_layers");
    c.width = integer(network["width"], "/network/width");
    try {
      c.activation = parse_activation(string(network["activation"], "/network/activation"));
    } catch (const ConfigError& e) {
      fail("/network/activation", e.what());
    }
    c.layer_norm = boolean(network["layer_norm"], "/network/layer_norm");
    c.layer_norm_eps = number(network["layer_norm_eps"], "/network/layer_norm_eps");
    if (c.inputs == 0 || c.outputs == 0 || (c.hidden_layers > 0 && c.width == 0)) {
      fail("/network", "expected positive inputs, outputs and width, found inputs=" + std::to_string(c.inputs) +
                           " outputs=" + std::to_string(c.outputs) + " width=" + std::to_string(c.width));
    }

    const Json& layers = member(root, "", "layers");
    // In size_t, so that a hidden_layers of INT64_MAX cannot overflow.
    const std::size_t expected_layers = static_cast<std::size_t>(c.hidden_layers) + 1;
    expect_type(layers.is_array(), layers, "/layers", "an array of layers");
    if (layers.size() != expected_layers) {
      fail("/layers", "expected " + std::to_string(expected_layers) + " layers (" + std::to_string(c.hidden_layers) +
                          " hidden + output head), found " + std::to_string(layers.size()));
    }
    for (std::size_t i = 0; i < expected_layers; ++i) {
      const std::string at = "/layers/" + std::to_string(i);
      const Json& layer = layers[i];
      expect_keys(layer, at, {"weight", "bias"});
      const bool first = i == 0;
      const bool last = i + 1 == expected_layers;
      const Index in = first ? c.inputs : c.width;
      const Index out = last ? c.outputs : c.width;
      const std::string in_reason = first ? "the network has " + std::to_string(in) + " inputs"
                                       : "layer " + std::to_string(i - 1) + " has " + std::to_string(in) + " outputs";
      const std::string out_reason = last ? "the network has " + std::to_string(out) + " outputs"
                                       : "the hidden width is " + std::to_string(out);
      LinearWeights<float> linear;
      linear.weight = matrix(layer["weight"], at + "/weight", out, in, in_reason + ", " + out_reason);
      linear.bias = row<float>(layer["bias"], at + "/bias", out, out_reason);
      weights.linear.push_back(std::move(linear));
    }

    const Json& norms = member(root, "", "layer_norms");
    const std::size_t expected_norms = c.layer_norm ? static_cast<std::size_t>(c.hidden_layers) : 0;
    expect_type(norms.is_array(), norms, "/layer_norms", "an array");
    if (norms.size() != expected_norms) {
      fail("/layer_norms", "expected " + std::to_string(expected_norms) + " layer norms (" +
                               (c.layer_norm ? "one per hidden layer" : "layer_norm is false") + "), found " +
                               std::to_string(norms.size()));
    }
    for (std::size_t i = 0; i < expected_norms; ++i) {
      const std::string at = "/layer_norms/" + std::to_string(i);
      expect_keys(norms[i], at, {"gamma", "beta"});
      const std::string reason = "the hidden width is " + std::to_string(c.width);
      weights.norm.push_back({row<float>(norms[i]["gamma"], at + "/gamma", c.width, reason),
                              row<float>(norms[i]["beta"], at + "/beta", c.width, reason)});
    }
  }

  void read_loss(const Json& value, LossSettings& loss) const {
    expect_keys(value, "/loss", {"name", "parameters"});
    loss.name = string(value["name"], "/loss/name");
    const Json& parameters = value["parameters"];
    expect_type(parameters.is_object(), parameters, "/loss/parameters", "an object of numbers");
    for (const auto& [key, item] : parameters.items()) {
      loss.parameters[key] = number(item, "/loss/parameters/" + key);
    }
  }

  // Test vectors: one row of event columns and one (px, py) per event.
  void read_test_vectors(const Json& value, ModelDocument& doc) const {
    expect_keys(value, "/test_vectors", {"inputs", "outputs"});
    const Json& inputs = value["inputs"];
    const Json& outputs = value["outputs"];
    expect_type(inputs.is_array(), inputs, "/test_vectors/inputs", "an array of events");
    const auto events = static_cast<Index>(inputs.size());
    const auto columns = static_cast<Index>(doc.schema.required_columns(false).size());
    doc.test_vectors.inputs = matrix(inputs, "/test_vectors/inputs", events, columns,
                                     "one row per event, one value per event column");
    Matrix<double> result(events, 2);
    expect_type(outputs.is_array(), outputs, "/test_vectors/outputs", "an array of [px, py]");
    if (static_cast<Index>(outputs.size()) != events) {
      fail("/test_vectors/outputs", "expected " + std::to_string(events) + " rows (one per test input), found " +
                                        std::to_string(outputs.size()));
    }
    for (Index r = 0; r < events; ++r) {
      const std::string at = "/test_vectors/outputs/" + std::to_string(r);
      const RowVector<double> met = row<double>(outputs[static_cast<std::size_t>(r)], at, 2, "px and py in GeV");
      result(r, 0) = met(0);
      result(r, 1) = met(1);
    }
    doc.test_vectors.outputs = std::move(result);
  }

  void read_sample_weights(const Json& value, ModelDocument& doc) const {
    expect_keys(value, "/sample_weights", {"enabled", "bins", "low", "high", "cap", "weight_to", "weight_from"});
    doc.use_sample_weights = boolean(value["enabled"], "/sample_weights/enabled");
    TruthWeightSettings& s = doc.sample_weights;
    s.bins = integer(value["bins"], "/sample_weights/bins");
    s.low = number(value["low"], "/sample_weights/low");
    s.high = number(value["high"], "/sample_weights/high");
    s.cap = boolean(value["cap"], "/sample_weights/cap");
    s.weight_to = number(value["weight_to"], "/sample_weights/weight_to");
    s.weight_from = number(value["weight_from"], "/sample_weights/weight_from");
  }

  std::string source_;
};

}  // namespace detail

// The JSON of a document. Throws NumericError naming the JSON pointer of a
// non-finite value, or the error of ModelDocument::validate.
inline Json model_to_json(const ModelDocument& doc) {
  doc.validate();
  return detail::ModelJsonWriter().write(doc);
}

// The document of a parsed JSON value; `source` (a file name) prefixes the
// JSON pointer in messages. Throws FormatError.
inline ModelDocument model_from_json(const Json& root, const std::string& source = "weights.json") {
  return detail::ModelJsonReader(source).read(root);
}

// Serialises a document: one top-level key per line, each value compact.
inline std::string model_json_text(const ModelDocument& doc) {
  const Json root = model_to_json(doc);
  std::string text = "{\n";
  bool first = true;
  for (const auto& [key, value] : root.items()) {
    text += first ? "" : ",\n";
    text += "  " + Json(key).dump() + ": " + value.dump();
    first = false;
  }
  return text + "\n}\n";
}

// Parses JSON text into a document. Throws FormatError, wrapping
// nlohmann_json's parse and number-range errors with the source name.
inline ModelDocument parse_model_json(const std::string& text, const std::string& source = "weights.json") {
  Json root;
  try {
    root = Json::parse(text);
  } catch (const Json::parse_error& e) {
    throw FormatError(source + ": invalid JSON at byte " + std::to_string(e.byte) + " (" + e.what() +
                      "); NaN, Inf, comments and trailing commas are not valid JSON");
  } catch (const Json::out_of_range& e) {
    // nlohmann_json raises out_of_range (id 406) for a number beyond the double range, such as 1e999.
    throw FormatError(source + ": invalid JSON number (" + e.what() + "); every value must be a finite float32");
  }
  return model_from_json(root, source);
}

// Writes the document to `path` atomically.
inline void save_model_json(const std::filesystem::path& path, const ModelDocument& doc) {
  const std::string text = model_json_text(doc);
  write_file_atomically(path, [&text](std::ostream& out) { out.write(text.data(), static_cast<std::streamsize>(text.size())); });
}

// Reads a document from `path`; messages start with the file name.
inline ModelDocument load_model_json(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw IoError("cannot open weights file '" + path.string() + "': check the path and permissions");
  }
  std::ostringstream buffer;
  buffer << in.rdbuf();
  if (in.bad()) {
    throw IoError("reading weights file '" + path.string() + "' failed");
  }
  return parse_model_json(buffer.str(), path.filename().string());
}

}  // namespace metnet
