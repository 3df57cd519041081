// SPDX-License-Identifier: MIT
#pragma once
// Per-event generator of the parametric simulation, and simulate(), which
// fills an EventTable with one row per event.
//
// Event i is drawn from Rng(seed, i) alone, so a table does not depend on
// the number of threads or on the order in which events are generated.
// Generating an event allocates no memory (fixed-capacity arrays).
// Leaves out file output (metnet/data) and any event selection: Z -> mu mu
// validation selects exactly two muons afterwards (column N_Muons).

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <thread>
#include <vector>

#include "metnet/core/random.hpp"
#include "metnet/data/event_table.hpp"
#include "metnet/simulation/detail/detector.hpp"
#include "metnet/simulation/detail/truth.hpp"
#include "metnet/simulation/process.hpp"
#include "metnet/simulation/simulated_event.hpp"
#include "metnet/simulation/simulation_config.hpp"

namespace metnet {

class EventGenerator {
 public:
  // Throws ConfigError if the configuration is invalid.
  EventGenerator(Process process, SimulationConfig config, std::uint64_t seed)
      : process_(process), config_(std::move(config)), seed_(seed) {
    config_.validate();
  }

  // Generates event `index`; the same (seed, index) always gives the same event.
  SimulatedEvent generate(std::uint64_t index) const noexcept {
    Rng rng(seed_, index);
    const detail::TruthEvent truth = detail::generate_truth(process_, config_, rng);
    return detail::reconstruct(truth, process_, config_, rng);
  }

  // Writes event `index` into a row of simulation_columns().size() floats.
  void generate_row(std::uint64_t index, float* row) const noexcept {
    const SimulatedEvent event = generate(index);
    std::size_t column = 0;
    visit_columns(event, [&](const char*, const char*, double value) { row[column++] = static_cast<float>(value); });
  }

  Process process() const noexcept { return process_; }
  const SimulationConfig& config() const noexcept { return config_; }

 private:
  Process process_;
  SimulationConfig config_;
  std::uint64_t seed_;
};

// Simulates `events` events of `process` into a table with the columns of
// simulation_columns(). threads = 0 uses std::thread::hardware_concurrency().
// The result is the same for every thread count.
inline EventTable simulate(Process process, std::size_t events, const SimulationConfig& config, std::uint64_t seed,
                           unsigned threads = 1) {
  const EventGenerator generator(process, config, seed);
  std::vector<std::string> columns = simulation_columns();
  Matrix<float> values(static_cast<Index>(events), static_cast<Index>(columns.size()));

  if (threads == 0) {
    threads = std::max(1U, std::thread::hardware_concurrency());
  }
  threads = static_cast<unsigned>(std::min<std::size_t>(threads, std::max<std::size_t>(events, 1)));

  const auto fill = [&](std::size_t begin, std::size_t end) {
    for (std::size_t i = begin; i < end; ++i) {
      generator.generate_row(i, values.row(static_cast<Index>(i)).data());
    }
  };
  if (threads <= 1) {
    fill(0, events);
  } else {
    std::vector<std::thread> workers;
    workers.reserve(threads);
    const std::size_t chunk = (events + threads - 1) / threads;
    for (unsigned t = 0; t < threads; ++t) {
      const std::size_t begin = std::min(events, t * chunk);
      const std::size_t end = std::min(events, begin + chunk);
      workers.emplace_back(fill, begin, end);
    }
    for (std::thread& worker : workers) {
      worker.join();
    }
  }
  return EventTable(std::move(columns), std::move(values));
}

}  // namespace metnet
