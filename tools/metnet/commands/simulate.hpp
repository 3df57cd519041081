// SPDX-License-Identifier: MIT
#pragma once
// `metnet simulate`: generates events of one process with the parametric
// simulation and writes them as CSV or .npy.

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <iostream>
#include <limits>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>

#include "../common.hpp"
#include "metnet/simulation/event_generator.hpp"
#include "metnet/simulation/process.hpp"
#include "metnet/simulation/simulation_config.hpp"

namespace metnet::cli {

// The pile-up profile of --mu-profile: "run2" (truncated normal with mean
// `mu`, the ATLAS Run-2 ttbar profile by default), "uniform" (flat in
// [mu_low, mu_high]) or "fixed" (always `mu`).
inline PileupConfig parse_mu_profile(std::string_view name, std::optional<double> mu, double mu_low,
                                     double mu_high) {
  PileupConfig pileup;
  if (name == "run2") {
    pileup.profile = MuProfile::run2_gaussian;
    pileup.mean = mu.value_or(pileup.mean);
  } else if (name == "uniform") {
    pileup.profile = MuProfile::uniform;
    pileup.low = mu_low;
    pileup.high = mu_high;
  } else if (name == "fixed") {
    if (!mu) {
      throw ConfigError("--mu-profile fixed needs --mu, the number of interactions per crossing (e.g. --mu 40)");
    }
    pileup.profile = MuProfile::fixed;
    pileup.mean = *mu;
  } else {
    throw ConfigError("--mu-profile: expected run2, uniform or fixed, found '" + std::string(name) + "'");
  }
  return pileup;
}

// Simulates events like simulate(process, events, config, seed, threads),
// with a progress bar. With an active truth filter, it first prints the
// filter efficiency.
inline EventTable simulate_with_progress(Process process, std::size_t events, const SimulationConfig& config,
                                         std::uint64_t seed, unsigned threads) {
  threads = std::max(1U, threads);
  const EventGenerator generator(process, config, seed);
  std::vector<std::uint64_t> indices;
  if (config.filter.active()) {
    FilteredIndices selected = select_filtered_indices(generator, events, threads);
    std::cout << "truth filter: kept " << selected.indices.size() << " of " << selected.candidates
              << " generated events (efficiency " << selected.efficiency() << ")\n";
    indices = std::move(selected.indices);
  }
  ProgressBar bar("simulate " + std::string(process_name(process)), static_cast<long long>(events), "events");
  EventTable table = simulate_events(generator, indices, events, threads,
                                     [&](std::size_t done) { bar.update(static_cast<long long>(done)); });
  bar.finish();
  return table;
}

struct SimulateArguments {
  std::string process = "ttbar";
  long long events = 10000;
  std::string mu_profile = "run2";
  std::optional<double> mu;
  double mu_low = 10.0;
  double mu_high = 60.0;
  double min_true_met = 0.0;
  double max_true_met = std::numeric_limits<double>::infinity();
  double mass_bias = 1.0;
  double stop_mass = StopConfig{}.stop_mass;
  double neutralino_mass = StopConfig{}.neutralino_mass;
  std::uint64_t seed = 1;
  unsigned threads = 1;
  std::filesystem::path output;
};

inline void run_simulate(const SimulateArguments& arguments) {
  if (arguments.events <= 0) {
    throw ConfigError("--events: expected a positive number of events, found " + std::to_string(arguments.events));
  }
  event_file_format(arguments.output);  // reject a bad extension before the work
  const Process process = parse_process(arguments.process);
  SimulationConfig config;
  config.pileup = parse_mu_profile(arguments.mu_profile, arguments.mu, arguments.mu_low, arguments.mu_high);
  config.filter.min_true_met = arguments.min_true_met;
  config.filter.max_true_met = arguments.max_true_met;
  config.bias.mass_tail_scale = arguments.mass_bias;
  config.stop.stop_mass = arguments.stop_mass;
  config.stop.neutralino_mass = arguments.neutralino_mass;
  config.validate();

  const EventTable table = simulate_with_progress(process, static_cast<std::size_t>(arguments.events), config,
                                                  arguments.seed, arguments.threads);
  if (config.bias.active()) {
    const auto weight = table.column("Weight");
    std::cout << "mass bias " << config.bias.mass_tail_scale << ": event weights (column Weight) from "
              << weight.minCoeff() << " to " << weight.maxCoeff() << ", mean " << weight.mean()
              << "; use them (evaluate --weight-column Weight) for distributions\n";
  }
  write_events(arguments.output, table);
  std::cout << "wrote " << table.rows() << " " << arguments.process << " events (" << table.cols() << " columns, GeV) to "
            << arguments.output.string() << '\n';
}

inline void add_simulate_command(CLI::App& app) {
  auto arguments = std::make_shared<SimulateArguments>();
  CLI::App* command = app.add_subcommand("simulate", "Simulate events of one process and write them as CSV or .npy");
  command->add_option("--process", arguments->process, "Physics process")
      ->check(CLI::IsMember({"ttbar", "ww", "zmumu", "stop", "wlnu"}))
      ->capture_default_str();
  command->add_option("--events,-n", arguments->events, "Number of events")->capture_default_str();
  command->add_option("--mu-profile", arguments->mu_profile,
                      "Pile-up profile: run2 (Run-2-like normal, mean 38.3), uniform (flat in --mu-low..--mu-high) "
                      "or fixed (always --mu)")
      ->check(CLI::IsMember({"run2", "uniform", "fixed"}))
      ->capture_default_str();
  command->add_option("--mu", arguments->mu, "Mean interactions per crossing (fixed profile; mean of run2)");
  command->add_option("--mu-low", arguments->mu_low, "Lower edge of the uniform mu profile")->capture_default_str();
  command->add_option("--mu-high", arguments->mu_high, "Upper edge of the uniform mu profile")->capture_default_str();
  command->add_option("--min-true-met", arguments->min_true_met,
                      "Generator-level filter: keep events whose hard-process invisible pT is at least this (GeV), "
                      "as in MET-filtered samples")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  command->add_option("--max-true-met", arguments->max_true_met,
                      "Generator-level filter: keep events whose hard-process invisible pT is below this (GeV)")
      ->check(CLI::PositiveNumber);
  command->add_option("--mass-bias", arguments->mass_bias,
                      "Draw the hard-system mass tail of ttbar, WW and stop pairs with its scale times this factor "
                      "and store the correcting event weight in the Weight column; with --min-true-met it fills "
                      "the high-MET tail cheaply (1: unbiased)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  command->add_option("--stop-mass", arguments->stop_mass, "Stop mass of --process stop (GeV)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  command->add_option("--neutralino-mass", arguments->neutralino_mass,
                      "Mass of the lightest neutralino of --process stop (GeV); the stop mass must exceed it by "
                      "at least 180 GeV, so that the top is on shell")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  command->add_option("--seed", arguments->seed, "Random seed; event i depends on (seed, i) only")
      ->capture_default_str();
  command->add_option("--threads,-j", arguments->threads, "Threads; the events do not depend on it")
      ->capture_default_str();
  command->add_option("-o,--output", arguments->output, "Output file, .csv or .npy")->required();
  command->callback([arguments] { run_simulate(*arguments); });
}

}  // namespace metnet::cli
