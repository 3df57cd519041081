// SPDX-License-Identifier: MIT
#pragma once
// A learning-rate schedule: cosine annealing with warm restarts (I.
// Loshchilov and F. Hutter, "SGDR", ICLR 2017), with an optional linear
// warm-up at the start of each cycle, as the METNet AdamW runs used (one
// cycle per epoch, 30 % warm-up, minimum 1e-8).
//
// Within a cycle of length L steps (L = cycle_steps * cycle_multiplier^k
// for the k-th cycle) and position t in [0, L), with W = warmup_fraction * L:
//   t <  W:  lr = min_lr + (max_lr - min_lr) * t / W
//   t >= W:  lr = min_lr + (max_lr - min_lr) * (1 + cos(pi (t - W) / (L - W))) / 2
// With warmup_fraction = 0 this is torch.optim.lr_scheduler.
// CosineAnnealingWarmRestarts(T_0 = cycle_steps, T_mult = cycle_multiplier,
// eta_min = min_lr) of PyTorch 1.13, evaluated per step.
// Leaves out: decay of max_lr between cycles.

#include <cmath>
#include <cstdint>
#include <numbers>
#include <string>

#include "metnet/core/error.hpp"

namespace metnet {

struct CosineWarmRestarts {
  double max_lr = 1e-3;
  double min_lr = 0.0;
  std::int64_t cycle_steps = 1000;       // steps in the first cycle, >= 1
  std::int64_t cycle_multiplier = 1;     // growth of each next cycle, >= 1
  double warmup_fraction = 0.0;          // in [0, 1)

  // The learning rate for the optimiser step with index step (0-based).
  double operator()(std::int64_t step) const {
    if (cycle_steps < 1 || cycle_multiplier < 1 || !(warmup_fraction >= 0.0 && warmup_fraction < 1.0)) {
      throw ConfigError("CosineWarmRestarts: expected cycle_steps >= 1, cycle_multiplier >= 1 and warmup_fraction "
                        "in [0, 1), found " + std::to_string(cycle_steps) + ", " + std::to_string(cycle_multiplier) +
                        ", " + std::to_string(warmup_fraction));
    }
    std::int64_t length = cycle_steps;
    std::int64_t position = step < 0 ? 0 : step;
    while (position >= length) {
      position -= length;
      length *= cycle_multiplier;
    }
    const double t = static_cast<double>(position);
    const double cycle = static_cast<double>(length);
    const double warmup = warmup_fraction * cycle;
    if (t < warmup) {
      return min_lr + (max_lr - min_lr) * t / warmup;
    }
    const double phase = (t - warmup) / (cycle - warmup);
    return min_lr + (max_lr - min_lr) * 0.5 * (1.0 + std::cos(std::numbers::pi * phase));
  }
};

}  // namespace metnet
