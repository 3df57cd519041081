// SPDX-License-Identifier: MIT
#pragma once
// Settings and progress reports of MetNet::fit.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "metnet/core/types.hpp"
#include "metnet/data/truth_weights.hpp"
#include "metnet/nn/mlp_weights.hpp"
#include "metnet/optim/adam.hpp"
#include "metnet/optim/cosine_warm_restarts.hpp"

namespace metnet {

// The hidden part of the network; inputs and outputs follow from the
// feature schema and the loss.
struct NetworkShape {
  Index hidden_layers = 5;
  Index width = 256;
  Activation activation = Activation::silu;
  bool layer_norm = true;
};

// One report to the progress callback: after every `report_every` batches
// and once at the end of each epoch (then epoch_end is true and
// validation_loss is set).
struct TrainingProgress {
  int epoch = 0;  // 0-based
  int epochs = 0;
  Index batch = 0;  // batches done in this epoch
  Index batches = 0;  // batches per epoch
  double train_loss = 0;  // mean over the batches done in this epoch
  double validation_loss = std::numeric_limits<double>::quiet_NaN();
  double events_per_second = 0;
  bool epoch_end = false;
  bool improved = false;  // at epoch end: the validation loss is the best so far
};

struct TrainingOptions {
  int epochs = 20;
  Index batch_size = 1024;
  // Adam settings; adam.lr is the learning rate. A schedule, if set, gets the
  // global step number.
  AdamOptions adam = [] {
    AdamOptions options;
    options.lr = 1e-3;
    return options;
  }();
  // Fraction of the events held out for validation and early stopping.
  double validation_fraction = 0.1;
  // Epochs without a better validation loss before training stops; 0 never stops early.
  int patience = 5;
  // Weights that fit() installs: those of the best validation epoch (true),
  // or those of the last epoch (false). The last epoch suits a learning-rate
  // schedule that decays to the end, when the validation loss is noisy.
  bool keep_best = true;
  // Weight events by the reciprocal of the true-MET histogram.
  bool use_sample_weights = true;
  TruthWeightSettings sample_weights;
  // Optional column of per-event weights (e.g. "Weight"), multiplied into the sample weights.
  std::string event_weight_column;
  std::uint64_t seed = 1;
  // Threads of the training passes (forward, backward) of the network. The
  // trained weights do not depend on it, so a run may resume on another
  // thread count. Must be at least 1.
  int threads = 1;
  std::function<void(const TrainingProgress&)> progress;
  Index report_every = 50;
  // Training checkpoints: written atomically at every epoch end and, if
  // checkpoint_every > 0, every that many batches. Empty: no checkpoints.
  std::filesystem::path checkpoint_path;
  Index checkpoint_every = 0;
  // Continue from checkpoint_path when it exists; the result equals that of
  // an uninterrupted run with the same events and settings.
  bool resume = false;
};

struct TrainingResult {
  std::vector<double> train_loss;  // per epoch
  std::vector<double> validation_loss;  // per epoch
  int best_epoch = -1;
  bool stopped_early = false;
  Index training_events = 0;
  Index validation_events = 0;
};

// Returns one cosine decay from options.adam.lr to final_fraction times it
// over every optimiser step that MetNet::fit makes on `events` events with
// these options. The step count repeats fit's split: the validation events
// are held out and each epoch drops its remainder batch.
inline CosineWarmRestarts cosine_decay(const TrainingOptions& options, Index events, double final_fraction = 0.01) {
  const auto validation_count =
      static_cast<Index>(std::floor(options.validation_fraction * static_cast<double>(events)));
  const Index training_count = std::max<Index>(1, events - validation_count);
  const Index batches = training_count / std::min(std::max<Index>(1, options.batch_size), training_count);
  CosineWarmRestarts schedule;
  schedule.max_lr = options.adam.lr;
  schedule.min_lr = options.adam.lr * final_fraction;
  schedule.cycle_steps = std::max<std::int64_t>(1, static_cast<std::int64_t>(batches) * options.epochs);
  return schedule;
}

}  // namespace metnet
