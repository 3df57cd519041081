// SPDX-License-Identifier: MIT
#pragma once
// `metnet train`: trains METNet on event files and writes a JSON weights
// file with the training metadata (command line, seed, sample size, git
// revision, date).

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "../common.hpp"
#include "metnet/io/metnet_json.hpp"
#include "metnet/model/metnet.hpp"

namespace metnet::cli {

struct TrainArguments {
  std::vector<std::filesystem::path> events;
  std::string unit = "GeV";
  std::string loss = "huber+sinkhorn";
  Index layers = 5;
  Index width = 256;
  int epochs = 20;
  Index batch_size = 1024;
  double lr = 1e-3;
  std::string lr_schedule = "constant";
  double sinkhorn_weight = 1.0;
  bool sinkhorn_weight_given = false;
  double sinkhorn_epsilon = Sinkhorn{}.epsilon;
  bool sinkhorn_epsilon_given = false;
  bool sinkhorn_weighted_marginals = false;
  std::string sinkhorn_on = "vector";
  bool sinkhorn_on_given = false;
  double validation_fraction = 0.1;
  int patience = 5;
  std::string keep = "best";
  bool sample_weights = true;
  double flat_to = TruthWeightSettings{}.weight_to;
  bool residual = false;
  std::string checkpoint;
  int checkpoint_every = 0;
  bool resume = false;
  std::uint64_t seed = 1;
  int threads = 1;
  std::filesystem::path output;
};

// The progress callback of MetNet::fit: a bar per epoch over its batches and
// one line per finished epoch with the training and validation loss.
class EpochProgress {
 public:
  explicit EpochProgress(Index batch_size) : batch_size_(batch_size) {}

  void operator()(const TrainingProgress& progress) {
    const auto done = static_cast<long long>(progress.batch * batch_size_);
    if (!bar_ || epoch_ != progress.epoch) {
      // The first report comes after some batches; their time enters the rate.
      const double spent = progress.events_per_second > 0 ? static_cast<double>(done) / progress.events_per_second : 0.0;
      epoch_ = progress.epoch;
      bar_ = std::make_unique<ProgressBar>(
          "epoch " + std::to_string(progress.epoch + 1) + "/" + std::to_string(progress.epochs),
          static_cast<long long>(progress.batches * batch_size_), "events", std::cerr, std::nullopt, 10.0, spent);
    }
    char loss_text[96];
    if (!progress.epoch_end) {
      std::snprintf(loss_text, sizeof loss_text, "train loss %.5f", progress.train_loss);
      bar_->update(done, loss_text);
      return;
    }
    std::snprintf(loss_text, sizeof loss_text, "train loss %.5f, validation loss %.5f%s", progress.train_loss,
                  progress.validation_loss, progress.improved ? " (best)" : "");
    bar_->finish(loss_text);
    bar_.reset();
  }

 private:
  Index batch_size_;
  int epoch_ = -1;
  std::unique_ptr<ProgressBar> bar_;
};

// Trains a MetNet<L> with the arguments and writes its weights file.
template <Loss L>
TrainingResult train_and_save(const EventTable& events, const TrainArguments& arguments, L loss) {
  FeatureSchema schema;
  schema.residual = arguments.residual;
  NetworkShape shape;
  shape.hidden_layers = arguments.layers;
  shape.width = arguments.width;
  MetNet<L> model(schema, shape, std::move(loss));
  TrainingOptions options;
  options.epochs = arguments.epochs;
  options.batch_size = arguments.batch_size;
  options.adam.lr = arguments.lr;
  options.validation_fraction = arguments.validation_fraction;
  if (arguments.lr_schedule == "cosine") {
    // One cosine cycle over all epochs, from --lr down to --lr / 100.
    options.adam.schedule = cosine_decay(options, events.rows());
  }
  options.patience = arguments.patience;
  options.keep_best = arguments.keep == "best";
  options.seed = arguments.seed;
  options.threads = arguments.threads;
  options.use_sample_weights = arguments.sample_weights;
  options.sample_weights.weight_to = arguments.flat_to;
  // Keep the histogram range 25 % beyond the flattened part, as the defaults do (450 over 360 GeV).
  options.sample_weights.high = std::max(options.sample_weights.high, 1.25 * arguments.flat_to);
  options.checkpoint_path = arguments.checkpoint;
  options.checkpoint_every = arguments.checkpoint_every;
  options.resume = arguments.resume;
  options.report_every = 10;
  options.progress = [progress = std::make_shared<EpochProgress>(std::min<Index>(arguments.batch_size, events.rows()))](const TrainingProgress& report) { (*progress)(report); };
  const TrainingResult result = model.fit(events, options);

  model.metadata() = training_metadata(arguments.seed, events.rows());
  model.metadata()["training_events"] = std::to_string(result.training_events);
  model.metadata()["validation_events"] = std::to_string(result.validation_events);
  model.metadata()["best_epoch"] = std::to_string(result.best_epoch + 1);
  model.metadata()["kept_epoch"] =
      std::to_string(arguments.keep == "best" ? result.best_epoch + 1 : static_cast<int>(result.train_loss.size()));
  std::string sources;
  for (const std::filesystem::path& path : arguments.events) {
    sources += (sources.empty() ? "" : " ") + path.string();
  }
  model.metadata()["event_files"] = sources;
  save_metnet(model, arguments.output);
  return result;
}

inline void run_train(const TrainArguments& arguments) {
  const LossKind kind = parse_loss_name(arguments.loss);
  if (arguments.sinkhorn_weight_given && kind != LossKind::huber_sinkhorn) {
    throw ConfigError("--sinkhorn-weight applies to --loss huber+sinkhorn only, found --loss " + arguments.loss);
  }
  if (arguments.sinkhorn_epsilon_given && kind != LossKind::huber_sinkhorn) {
    throw ConfigError("--sinkhorn-epsilon applies to --loss huber+sinkhorn only, found --loss " + arguments.loss);
  }
  if (arguments.sinkhorn_on_given && kind != LossKind::huber_sinkhorn) {
    throw ConfigError("--sinkhorn-on applies to --loss huber+sinkhorn only, found --loss " + arguments.loss);
  }
  if (arguments.sinkhorn_weighted_marginals && kind != LossKind::huber_sinkhorn) {
    throw ConfigError("--sinkhorn-weighted-marginals applies to --loss huber+sinkhorn only, found --loss " +
                      arguments.loss);
  }
  if (arguments.output.extension() != ".json") {
    throw ConfigError("-o: expected a .json weights file, found '" + arguments.output.string() + "'");
  }
  const EventTable events = read_events(arguments.events, parse_energy_unit(arguments.unit));
  std::cerr << "training " << loss_cli_name(kind) << " METNet (" << arguments.layers << " x " << arguments.width
            << ") on " << events.rows() << " events\n";

  const TrainingResult result = dispatch_loss(kind, [&](auto loss_type) {
    using L = typename decltype(loss_type)::type;
    L loss{};
    if constexpr (std::is_same_v<L, HuberSinkhorn>) {
      loss.lambda = arguments.sinkhorn_weight;
      loss.second.epsilon = arguments.sinkhorn_epsilon;
      loss.second.weighted_marginals = arguments.sinkhorn_weighted_marginals;
      loss.second.compared_columns = sinkhorn_compared_columns(arguments.sinkhorn_on);
    }
    return train_and_save(events, arguments, loss);
  });

  std::cout << "best epoch " << result.best_epoch + 1 << " of " << result.train_loss.size()
            << (result.stopped_early ? " (stopped early)" : "") << ": validation loss "
            << result.validation_loss[static_cast<std::size_t>(result.best_epoch)] << "; wrote "
            << (arguments.keep == "best" ? "its" : "the last epoch's") << " weights to " << arguments.output.string()
            << '\n';
}

inline void add_train_command(CLI::App& app) {
  auto arguments = std::make_shared<TrainArguments>();
  CLI::App* command = app.add_subcommand("train", "Train METNet on event files and write a JSON weights file");
  command->add_option("events", arguments->events, "Event files (.csv or .npy) with the METNet inputs and True_EX, "
                                                   "True_EY; the first file fixes the columns")
      ->required();
  command->add_option("--unit", arguments->unit, "Energy unit of the event files: GeV or MeV")
      ->check(CLI::IsMember({"GeV", "MeV", "gev", "mev"}))
      ->capture_default_str();
  command->add_option("--loss", arguments->loss, "Loss: huber, huber+sinkhorn or gnll (Gaussian NLL, predicts sigma)")
      ->check(CLI::IsMember({"huber", "huber+sinkhorn", "gnll"}))
      ->capture_default_str();
  command->add_option("--layers", arguments->layers, "Hidden layers")->check(CLI::NonNegativeNumber)->capture_default_str();
  command->add_option("--width", arguments->width, "Units per hidden layer")->check(CLI::PositiveNumber)->capture_default_str();
  command->add_option("--epochs", arguments->epochs, "Maximum number of epochs")->check(CLI::PositiveNumber)->capture_default_str();
  command->add_option("--batch-size", arguments->batch_size, "Events per batch")->check(CLI::PositiveNumber)->capture_default_str();
  command->add_option("--lr", arguments->lr, "Adam learning rate")->check(CLI::PositiveNumber)->capture_default_str();
  command->add_option("--lr-schedule", arguments->lr_schedule,
                      "Learning-rate schedule: constant (--lr throughout) or cosine (one cosine decay from --lr to "
                      "--lr / 100 over all epochs)")
      ->check(CLI::IsMember({"constant", "cosine"}))
      ->capture_default_str();
  CLI::Option* sinkhorn_weight =
      command->add_option("--sinkhorn-weight", arguments->sinkhorn_weight,
                          "Weight lambda of the Sinkhorn divergence in huber+sinkhorn")
          ->capture_default_str();
  CLI::Option* sinkhorn_epsilon =
      command->add_option("--sinkhorn-epsilon", arguments->sinkhorn_epsilon,
                          "Entropic regularisation epsilon of the Sinkhorn divergence in huber+sinkhorn, in squared "
                          "standardised target units: larger values compare the two batches on a coarser scale")
          ->check(CLI::PositiveNumber)
          ->capture_default_str();
  CLI::Option* sinkhorn_on = add_sinkhorn_on_option(command, arguments->sinkhorn_on);
  command->add_flag("--sinkhorn-weighted-marginals", arguments->sinkhorn_weighted_marginals,
                    "Give each event its sample weight as its mass in the Sinkhorn divergence, so that the term "
                    "compares the weighted distributions that the Huber term is fitted to (default: equal masses)");
  command->add_option("--validation-fraction", arguments->validation_fraction,
                      "Fraction of the events held out for validation and early stopping")
      ->check(CLI::Range(0.0, 0.99))
      ->capture_default_str();
  command->add_option("--patience", arguments->patience, "Epochs without a better validation loss before stopping; 0 "
                                                         "never stops early")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  command->add_option("--keep", arguments->keep,
                      "Weights to write: best (the epoch with the lowest validation loss) or last (the last "
                      "epoch, for a schedule such as --lr-schedule cosine that decays to the end)")
      ->check(CLI::IsMember({"best", "last"}))
      ->capture_default_str();
  command->add_flag("!--no-sample-weights", arguments->sample_weights,
                    "Train without the reciprocal true-MET histogram weights (which flatten the true-MET spectrum)");
  command->add_option("--flat-to", arguments->flat_to,
                      "True MET (GeV) up to which the sample weights flatten the spectrum; events above it keep "
                      "the weight at this value")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  command->add_flag("--residual", arguments->residual,
                    "Regress the true MET minus the Tight MET instead of the true MET (a correction to the reference "
                    "working point)");
  command->add_option("--checkpoint", arguments->checkpoint,
                      "Training checkpoint file, written atomically at every epoch end (and every --checkpoint-every "
                      "batches)");
  command->add_option("--checkpoint-every", arguments->checkpoint_every, "Batches between checkpoints; 0: epoch ends only")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  command->add_flag("--resume", arguments->resume,
                    "Continue from --checkpoint if it exists; the result equals an uninterrupted run with the same "
                    "events and options");
  command->add_option("--seed", arguments->seed, "Seed of the split, the initial weights and the shuffling")
      ->capture_default_str();
  command->add_option("--threads", arguments->threads,
                      "Threads of the training passes; the trained weights do not depend on it")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  command->add_option("-o,--output", arguments->output, "Weights file to write (.json)")->required();
  command->callback([arguments, sinkhorn_weight, sinkhorn_epsilon, sinkhorn_on] {
    arguments->sinkhorn_on_given = sinkhorn_on->count() > 0;
    arguments->sinkhorn_weight_given = sinkhorn_weight->count() > 0;
    arguments->sinkhorn_epsilon_given = sinkhorn_epsilon->count() > 0;
    run_train(*arguments);
  });
}

}  // namespace metnet::cli
