// SPDX-License-Identifier: MIT
#pragma once
// `metnet export-header WEIGHTS -o HEADER --namespace NAME`: writes a weights
// file as a self-contained C++ header with constexpr weights, a
// metnet::FixedMlp and predict(event_columns, met_xy)
// (metnet/inference/header_export.hpp). The header is written through a
// temporary file and a rename, so a failed export leaves no partial header.

#include <filesystem>
#include <memory>
#include <ostream>
#include <string>

#include <CLI/CLI.hpp>

#include "../common.hpp"
#include "metnet/data/atomic_file.hpp"
#include "metnet/inference/header_export.hpp"
#include "metnet/io/model_json.hpp"

namespace metnet::cli {

struct ExportHeaderArguments {
  std::filesystem::path weights;
  std::filesystem::path header;
  std::string name_space = "metnet_model";
};

inline void add_export_header_command(CLI::App& app) {
  auto arguments = std::make_shared<ExportHeaderArguments>();
  CLI::App* command = app.add_subcommand(
      "export-header", "Write a weights file as a C++ header with compiled-in weights and predict()");
  command->add_option("weights", arguments->weights, "Weights file (.json)")->required();
  command->add_option("-o,--output", arguments->header, "Header file to write (.hpp)")->required();
  command->add_option("--namespace", arguments->name_space,
                      "C++ namespace of the generated code, e.g. my_analysis::metnet_model")
      ->capture_default_str();
  command->callback([arguments] {
    const ModelDocument document = load_model_json(arguments->weights);
    write_file_atomically(arguments->header,
                          [&](std::ostream& out) { write_header(document, out, arguments->name_space); });
  });
}

}  // namespace metnet::cli
