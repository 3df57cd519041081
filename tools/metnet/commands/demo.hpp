// SPDX-License-Identifier: MIT
#pragma once
// `metnet demo`: the whole METNet workflow on simulated events in a few
// minutes. It simulates training events with the Run-2 pile-up profile
// (ttbar, two MET-filtered ttbar slices and W -> l nu, the recipe of the
// shipped weights at a smaller size), trains METNet (Huber loss by
// default, on residual targets), evaluates it on held-out ttbar and on
// Z -> mu mu (never trained on; exactly two muons) with mu uniform in
// [10, 60], prints the per-axis RMS of MET - true for every working point
// and METNet with the ratio to Tight, overall and in mu bins, and writes the
// tables and the weights into the output folder.

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "../common.hpp"
#include "simulate.hpp"
#include "train.hpp"
#include "metnet/evaluation/resolution.hpp"
#include "metnet/evaluation/result_table.hpp"
#include "metnet/io/metnet_json.hpp"
#include "metnet/model/metnet.hpp"
#include "metnet/simulation/event_generator.hpp"

namespace metnet::cli {

struct DemoArguments {
  std::filesystem::path output_dir = "metnet-demo";
  long long events = 300000;      // plain ttbar training events; each evaluation sample has a third of them
  std::string loss = "huber+sinkhorn";
  double sinkhorn_weight = 1.0;
  std::string sinkhorn_on = "parallel";
  int epochs = 10;
  Index layers = 3;
  Index width = 128;
  Index batch_size = 512;
  std::uint64_t seed = 2024;
  unsigned threads = 2;
};

// Keeps the rows of `events` whose column `name` equals `value`.
inline EventTable select_rows(const EventTable& events, const std::string& name, float value) {
  const auto column = events.column(name);
  std::vector<Index> rows;
  for (Index i = 0; i < events.rows(); ++i) {
    if (column(i) == value) {
      rows.push_back(i);
    }
  }
  Matrix<float> values(static_cast<Index>(rows.size()), events.cols());
  for (std::size_t k = 0; k < rows.size(); ++k) {
    values.row(static_cast<Index>(k)) = events.values().row(rows[k]);
  }
  return EventTable(events.columns(), std::move(values));
}

// Simulates `count` events of `process` with a progress bar, keeping those
// with a hard-process true MET of at least `min_true_met` GeV.
inline EventTable simulate_sample(Process process, long long count, const PileupConfig& pileup, std::uint64_t seed,
                                  unsigned threads, double min_true_met = 0.0) {
  SimulationConfig config;
  config.pileup = pileup;
  config.filter.min_true_met = min_true_met;
  return simulate_with_progress(process, static_cast<std::size_t>(count), config, seed, threads);
}

// Prints one evaluation sample's table: a row per estimator with the RMS
// overall and per mu bin, then the ratio of METNet to Tight.
inline void print_resolution(std::ostream& out, const std::string& title, const ResolutionProfile& overall,
                             const ResolutionProfile& by_mu) {
  out << '\n' << title << ": per-axis RMS of (MET - true) in GeV, mu = AvgMu\n";
  char cell[32];
  out << "estimator   " << "     all";
  for (int bin = 0; bin < by_mu.binning.bins(); ++bin) {
    std::snprintf(cell, sizeof cell, "   %2.0f-%2.0f", by_mu.binning.edges()[static_cast<std::size_t>(bin)],
                  by_mu.binning.edges()[static_cast<std::size_t>(bin) + 1]);
    out << cell;
  }
  out << '\n';
  for (std::size_t k = 0; k < overall.names.size(); ++k) {
    std::snprintf(cell, sizeof cell, "%-12s%8.2f", overall.names[k].c_str(), overall.estimators[k].rms[0]);
    out << cell;
    for (const double rms : by_mu.estimators[k].rms) {
      std::snprintf(cell, sizeof cell, "%8.2f", rms);
      out << cell;
    }
    out << '\n';
  }
  std::snprintf(cell, sizeof cell, "%-12s%8.3f", "METNet/Tight", overall.ratio("METNet", "Tight")[0]);
  out << cell;
  for (const double ratio : by_mu.ratio("METNet", "Tight")) {
    std::snprintf(cell, sizeof cell, "%8.3f", ratio);
    out << cell;
  }
  out << "\nevents      " << overall.estimators[0].events[0];
  for (const Index count : by_mu.estimators[0].events) {
    std::snprintf(cell, sizeof cell, "%8lld", static_cast<long long>(count));
    out << cell;
  }
  out << '\n';
}

// Predicts the sample, prints its table and writes the CSV files
// resolution_<name>_overall.csv and resolution_<name>_mu.csv.
template <Loss L>
void evaluate_sample(const MetNet<L>& model, EventTable events, const std::string& name, const std::string& title,
                     const std::filesystem::path& output_dir, unsigned threads) {
  const auto prediction = model.predict(events, static_cast<int>(threads));
  events.add_column("METNet_EX", prediction.px);
  events.add_column("METNet_EY", prediction.py);

  std::vector<Estimator> estimators = working_point_estimators();
  estimators.push_back({"METNet", "METNet_EX", "METNet_EY"});
  // One bin over all events: AvgMu is in [10, 60] by construction of the profile.
  const Binning all_events({0.0, 1000.0});
  const Binning mu_bins = Binning::uniform(5, 10.0, 60.0);
  ResolutionOptions options;
  options.out_of_range = OutOfRange::clamp_to_edge;
  const ResolutionProfile overall = resolution_profile(events, "AvgMu", all_events, estimators, options);
  const ResolutionProfile by_mu = resolution_profile(events, "AvgMu", mu_bins, estimators, options);

  print_resolution(std::cout, title, overall, by_mu);
  write_result_csv(output_dir / ("resolution_" + name + "_overall.csv"), resolution_table(overall));
  write_result_csv(output_dir / ("resolution_" + name + "_mu.csv"), resolution_table(by_mu));
}

template <Loss L>
MetNet<L> train_demo_model(const EventTable& training, const DemoArguments& arguments, L loss) {
  NetworkShape shape;
  shape.hidden_layers = arguments.layers;
  shape.width = arguments.width;
  FeatureSchema schema;
  // A correction to the Tight MET: where the network has seen few events
  // (true MET far above the training sample's) it stays near Tight.
  schema.residual = true;
  MetNet<L> model(schema, shape, std::move(loss));
  TrainingOptions options;
  options.epochs = arguments.epochs;
  options.batch_size = arguments.batch_size;
  options.seed = arguments.seed;
  options.threads = static_cast<int>(std::max(1U, arguments.threads));
  // The cosine decay ends low only at the last epoch.
  options.patience = 0;
  options.keep_best = false;
  // The true-MET sample weights matter for Z -> mu mu: unweighted, the
  // network learns the ttbar MET spectrum as a prior and overestimates the
  // near-zero MET of Z -> mu mu events. Flat up to 600 GeV covers the slices.
  options.use_sample_weights = true;
  options.sample_weights.weight_to = 600.0;
  options.sample_weights.high = 750.0;
  options.adam.schedule = cosine_decay(options, training.rows());
  options.report_every = 20;
  options.progress = [progress = std::make_shared<EpochProgress>(arguments.batch_size)](
                         const TrainingProgress& report) { (*progress)(report); };
  const TrainingResult result = model.fit(training, options);
  model.metadata() = training_metadata(arguments.seed, training.rows());
  model.metadata()["sample"] = "metnet demo: simulated ttbar, MET-filtered ttbar slices and W -> l nu, Run-2 mu profile";
  std::cerr << "trained " << result.train_loss.size() << " epochs; the last one is kept (the best validation loss was at epoch "
            << result.best_epoch + 1 << ")\n";
  return model;
}

template <Loss L>
void save_and_evaluate(const MetNet<L>& model, const EventTable& ttbar, const EventTable& zmumu,
                       const DemoArguments& arguments) {
  const std::filesystem::path weights = arguments.output_dir / "metnet_demo.json";
  save_metnet(model, weights);
  std::cerr << "3/3 evaluating\n";
  evaluate_sample(model, ttbar, "ttbar", "ttbar, held out (" + std::to_string(ttbar.rows()) + " events)",
                  arguments.output_dir, arguments.threads);
  evaluate_sample(model, zmumu, "zmumu",
                  "Z -> mu mu, never trained on (" + std::to_string(zmumu.rows()) + " events with two muons)",
                  arguments.output_dir, arguments.threads);
}

inline void run_demo(const DemoArguments& arguments) {
  if (arguments.events < 1000) {
    throw ConfigError("--events: expected at least 1000 training events, found " + std::to_string(arguments.events));
  }
  const LossKind kind = parse_loss_name(arguments.loss);
  if (kind == LossKind::gnll) {
    throw ConfigError("--loss: the demo trains huber or huber+sinkhorn, found gnll; use metnet train --loss gnll");
  }
  std::filesystem::create_directories(arguments.output_dir);

  PileupConfig run2;  // the Run-2-like default profile
  PileupConfig uniform;
  uniform.profile = MuProfile::uniform;
  uniform.low = 10.0;
  uniform.high = 60.0;
  const long long evaluation_events = std::max(1000LL, arguments.events / 3);

  std::cerr << "1/3 simulating ttbar, MET-filtered ttbar and W -> l nu for training, held-out ttbar and "
               "Z -> mu mu for evaluation\n";
  const std::uint64_t seed = arguments.seed;
  const EventTable plain = simulate_sample(Process::ttbar, arguments.events, run2, seed, arguments.threads);
  const EventTable slice_200 = simulate_sample(Process::ttbar, std::max(1LL, arguments.events / 5), run2, seed + 3,
                                               arguments.threads, 200.0);
  const EventTable slice_400 = simulate_sample(Process::ttbar, std::max(1LL, arguments.events / 20), run2, seed + 4,
                                               arguments.threads, 400.0);
  const EventTable wlnu = simulate_sample(Process::wlnu, std::max(1LL, arguments.events * 3 / 10), run2, seed + 5,
                                          arguments.threads);
  const EventTable training = stack_rows({&plain, &slice_200, &slice_400, &wlnu});
  const EventTable ttbar = simulate_sample(Process::ttbar, evaluation_events, uniform, seed + 1, arguments.threads);
  const EventTable zmumu = select_rows(
      simulate_sample(Process::zmumu, evaluation_events, uniform, seed + 2, arguments.threads), "N_Muons", 2.0f);

  std::cerr << "2/3 training METNet (" << loss_cli_name(kind) << ", residual, " << arguments.layers << " x "
            << arguments.width << ", " << arguments.epochs << " epochs, batch " << arguments.batch_size << ") on "
            << training.rows() << " events\n";
  if (kind == LossKind::huber_sinkhorn) {
    HuberSinkhorn loss;
    loss.lambda = arguments.sinkhorn_weight;
    loss.second.compared_columns = sinkhorn_compared_columns(arguments.sinkhorn_on);
    save_and_evaluate(train_demo_model(training, arguments, loss), ttbar, zmumu, arguments);
  } else {
    save_and_evaluate(train_demo_model(training, arguments, Huber{}), ttbar, zmumu, arguments);
  }
  std::cout << "\nwrote the weights and the resolution tables (CSV) to " << arguments.output_dir.string() << "/\n";
}

inline void add_demo_command(CLI::App& app) {
  auto arguments = std::make_shared<DemoArguments>();
  CLI::App* command = app.add_subcommand(
      "demo", "Simulate events, train METNet and print its resolution against the working points");
  command->add_option("--output-dir", arguments->output_dir, "Folder for the weights and the resolution tables")
      ->capture_default_str();
  command->add_option("--events", arguments->events,
                      "Plain ttbar training events; the filtered slices and W -> l nu add 55 % more, and each "
                      "evaluation sample has a third as many")
      ->capture_default_str();
  command->add_option("--loss", arguments->loss, "Loss: huber or huber+sinkhorn")
      ->check(CLI::IsMember({"huber", "huber+sinkhorn"}))
      ->capture_default_str();
  command->add_option("--sinkhorn-weight", arguments->sinkhorn_weight,
                      "Weight lambda of the Sinkhorn divergence in huber+sinkhorn")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  add_sinkhorn_on_option(command, arguments->sinkhorn_on);
  command->add_option("--epochs", arguments->epochs, "Maximum number of epochs")->check(CLI::PositiveNumber)->capture_default_str();
  command->add_option("--layers", arguments->layers, "Hidden layers")->check(CLI::NonNegativeNumber)->capture_default_str();
  command->add_option("--width", arguments->width, "Units per hidden layer")->check(CLI::PositiveNumber)->capture_default_str();
  command->add_option("--batch-size", arguments->batch_size, "Events per batch")->check(CLI::PositiveNumber)->capture_default_str();
  command->add_option("--seed", arguments->seed, "Seed of the samples and the training")->capture_default_str();
  command->add_option("--threads,-j", arguments->threads, "Threads for simulation, training and prediction")->capture_default_str();
  command->callback([arguments] { run_demo(*arguments); });
}

}  // namespace metnet::cli
