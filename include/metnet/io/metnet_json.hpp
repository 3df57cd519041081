// SPDX-License-Identifier: MIT
#pragma once
// Saving and loading a MetNet model as a JSON weights file.
//
//   metnet::save_metnet(model, "metnet.json");
//   auto model = metnet::load_metnet<metnet::HuberSinkhorn>("metnet.json");
//
// The file layout and its checks are those of io/model_json.hpp. Loading a
// file trained with another loss than L raises ConfigError naming both.

#include <filesystem>

#include "metnet/io/model_json.hpp"
#include "metnet/model/metnet.hpp"
#include "metnet/model/verification.hpp"

namespace metnet {

// Writes the model atomically (temporary file renamed into place). Throws
// ConfigError if the model is untrained, NumericError on non-finite weights.
template <Loss L>
void save_metnet(const MetNet<L>& model, const std::filesystem::path& path) {
  save_model_json(path, model.document());
}

// As above, and stores the weights hash and test vectors with the file: each
// row of `test_inputs` is one event in model.event_columns() order (GeV), and
// the file keeps the model's predictions for them (model/verification.hpp).
template <Loss L>
void save_metnet(const MetNet<L>& model, const std::filesystem::path& path, const Matrix<float>& test_inputs) {
  ModelDocument document = model.document();
  add_test_vectors(document, model, test_inputs);
  save_model_json(path, document);
}

// Reads a weights file and rebuilds the model. Throws IoError if the file
// cannot be read, FormatError naming the JSON pointer of a malformed or
// mismatched entry, ConfigError if the loss differs from L.
template <Loss L>
MetNet<L> load_metnet(const std::filesystem::path& path) {
  const ModelDocument document = load_model_json(path);
  try {
    return MetNet<L>::from_document(document);
  } catch (const ConfigError& error) {
    throw ConfigError(path.string() + ": " + error.what());
  }
}

}  // namespace metnet
