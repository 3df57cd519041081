// SPDX-License-Identifier: MIT
#pragma once
// `metnet predict`: adds the METNet prediction to every event of a file.
//
// Added columns: METNet_EX, METNet_EY, METNet_ET (GeV) and METNet_Phi
// (radians), plus METNet_Sigma (GeV) and METNet_Sig (METNetSig = pT / sigma)
// for a Gaussian NLL model. The output has every input column (in GeV) and
// is written through a temporary file, so a failure leaves no output file.

#include <filesystem>
#include <iostream>
#include <memory>
#include <string>

#include <CLI/CLI.hpp>

#include "../common.hpp"
#include "metnet/model/metnet.hpp"

namespace metnet::cli {

// Appends the prediction columns of `model` for `events` to the table.
template <Loss L>
void add_prediction_columns(const MetNet<L>& model, EventTable& events, int threads) {
  for (const char* name : {"METNet_EX", "METNet_EY", "METNet_ET", "METNet_Phi", "METNet_Sigma", "METNet_Sig"}) {
    if (events.has_column(name)) {
      throw FormatError("the event file already has a column '" + std::string(name) +
                        "'; remove the METNet_* columns of an earlier prediction first");
    }
  }
  const auto prediction = model.predict(events, threads);
  events.add_column("METNet_EX", prediction.px);
  events.add_column("METNet_EY", prediction.py);
  events.add_column("METNet_ET", prediction.pt);
  events.add_column("METNet_Phi", prediction.phi);
  if constexpr (MetNet<L>::is_probabilistic) {
    events.add_column("METNet_Sigma", prediction.sigma);
    events.add_column("METNet_Sig", prediction.significance);
  }
}

struct PredictArguments {
  std::filesystem::path weights;
  std::filesystem::path events;
  std::filesystem::path output;
  std::string unit = "GeV";
  int threads = 1;
};

inline void run_predict(const PredictArguments& arguments) {
  event_file_format(arguments.output);  // reject a bad extension before the work
  if (std::filesystem::exists(arguments.output) && std::filesystem::exists(arguments.events) &&
      std::filesystem::equivalent(arguments.output, arguments.events)) {
    throw ConfigError("-o '" + arguments.output.string() + "' is the input event file; write to another file");
  }
  EventTable events = read_events(arguments.events, parse_energy_unit(arguments.unit));
  const Index rows = events.rows();
  with_loaded_model(arguments.weights, [&](const auto& model) {
    try {
      add_prediction_columns(model, events, arguments.threads);
    } catch (const FormatError& error) {
      // Usually a weights file trained on other features than the file holds.
      throw FormatError(arguments.events.string() + " with weights " + arguments.weights.string() + ": " +
                        error.what());
    }
  });
  write_events(arguments.output, events);
  std::cout << "wrote " << rows << " events with METNet predictions to " << arguments.output.string() << '\n';
}

inline void add_predict_command(CLI::App& app) {
  auto arguments = std::make_shared<PredictArguments>();
  CLI::App* command =
      app.add_subcommand("predict", "Add the METNet prediction (METNet_EX, _EY, _ET, _Phi; _Sigma, _Sig for gnll) "
                                    "to every event of a file");
  command->add_option("weights", arguments->weights, "Weights file (.json) written by metnet train")->required();
  command->add_option("events", arguments->events, "Event file (.csv or .npy)")->required();
  command->add_option("-o,--output", arguments->output, "Output event file (.csv or .npy), in GeV")->required();
  command->add_option("--unit", arguments->unit, "Energy unit of the event file: GeV or MeV")
      ->check(CLI::IsMember({"GeV", "MeV", "gev", "mev"}))
      ->capture_default_str();
  command->add_option("--threads,-j", arguments->threads, "Threads for the forward pass")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  command->callback([arguments] { run_predict(*arguments); });
}

}  // namespace metnet::cli
