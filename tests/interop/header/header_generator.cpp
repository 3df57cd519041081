// SPDX-License-Identifier: MIT
// Build-time generator for the header-export test: reads a metnet weights
// file, optionally adds test vectors from the events of an expected-output
// fixture, and writes the generated header.
//   header_generator WEIGHTS HEADER NAMESPACE [EXPECTED_JSON]
#include <algorithm>
#include <exception>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "metnet/inference/header_export.hpp"
#include "metnet/io.hpp"
#include "metnet/metnet.hpp"

int main(int argc, char** argv) {
  if (argc != 4 && argc != 5) {
    std::cerr << "usage: header_generator WEIGHTS HEADER NAMESPACE [EXPECTED_JSON]\n";
    return 2;
  }
  try {
    metnet::ModelDocument document = metnet::load_model_json(argv[1]);
    if (argc == 5) {
      const auto model = metnet::MetNet<metnet::Huber>::from_document(document);
      std::ifstream in(argv[4]);
      const nlohmann::json expected = nlohmann::json::parse(in);
      const auto names = expected.at("columns").get<std::vector<std::string>>();
      const auto events = expected.at("events").get<std::vector<std::vector<double>>>();
      metnet::Matrix<float> inputs(static_cast<metnet::Index>(events.size()),
                                   static_cast<metnet::Index>(model.event_columns().size()));
      for (metnet::Index r = 0; r < inputs.rows(); ++r) {
        for (metnet::Index c = 0; c < inputs.cols(); ++c) {
          const auto& name = model.event_columns()[static_cast<std::size_t>(c)];
          const auto position = std::find(names.begin(), names.end(), name) - names.begin();
          inputs(r, c) = static_cast<float>(events[static_cast<std::size_t>(r)][static_cast<std::size_t>(position)]);
        }
      }
      metnet::add_test_vectors(document, model, inputs);
    }
    std::ofstream out(argv[2]);
    metnet::write_header(document, out, argv[3]);
  } catch (const std::exception& error) {
    std::cerr << "header_generator: " << error.what() << '\n';
    return 1;
  }
  return 0;
}
