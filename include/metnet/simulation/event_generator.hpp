// SPDX-License-Identifier: MIT
#pragma once
// Per-event generator of the parametric simulation, and simulate(), which
// fills an EventTable with one row per event.
//
// Event i is drawn from Rng(seed, i) alone, so a table does not depend on
// the number of threads or on the order in which events are generated.
// Generating an event allocates no memory (fixed-capacity arrays).
// With a truth filter (SimulationConfig::filter), the table contains the
// events of the first accepted indices, so a kept event equals the unfiltered event of the same
// index. Leaves out file output (metnet/data) and any reconstructed-level
// selection: Z -> mu mu validation selects exactly two muons afterwards
// (column N_Muons).

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
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

  // Returns whether event `index` passes the truth filter. It draws only the
  // truth part of the event, which for ttbar takes about a fifth of the time
  // of generate() (0.9 against 4.3 us, measured with metnet simulate).
  bool accepts(std::uint64_t index) const noexcept {
    if (!config_.filter.active()) {
      return true;
    }
    Rng rng(seed_, index);
    const detail::TruthEvent truth = detail::generate_truth(process_, config_, rng);
    return config_.filter.accepts(std::hypot(truth.true_x, truth.true_y));
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

namespace detail {

// Runs body(begin, end) over [0, count) split into one contiguous share per thread.
template <class Body>
void parallel_ranges(std::size_t count, unsigned threads, const Body& body) {
  threads = static_cast<unsigned>(std::min<std::size_t>(std::max(1U, threads), std::max<std::size_t>(count, 1)));
  if (threads == 1) {
    body(std::size_t{0}, count);
    return;
  }
  std::vector<std::thread> workers;
  workers.reserve(threads);
  const std::size_t share = (count + threads - 1) / threads;
  for (unsigned t = 0; t < threads; ++t) {
    const std::size_t begin = std::min(count, t * share);
    workers.emplace_back(body, begin, std::min(count, begin + share));
  }
  for (std::thread& worker : workers) {
    worker.join();
  }
}

inline unsigned resolve_threads(unsigned threads) noexcept {
  return threads == 0 ? std::max(1U, std::thread::hardware_concurrency()) : threads;
}

inline std::string describe_window(const TruthFilter& filter) {
  std::string window = "[";
  window += std::to_string(filter.min_true_met);
  window += ", ";
  window += std::to_string(filter.max_true_met);
  window += ") GeV";
  return window;
}

}  // namespace detail

// Event indices of a filtered sample and how many candidates were drawn.
struct FilteredIndices {
  std::vector<std::uint64_t> indices;
  std::uint64_t candidates = 0;

  double efficiency() const noexcept {
    return candidates == 0 ? 0.0 : static_cast<double>(indices.size()) / static_cast<double>(candidates);
  }
};

// How long select_filtered_indices() searches before it gives up.
struct FilterSearchLimits {
  std::uint64_t empty_candidates = std::uint64_t{1} << 24;  // give up if none of these passed
  std::uint64_t max_candidates = std::uint64_t{1} << 40;    // give up if the request needs more
};

// Returns the first `events` indices 0, 1, 2, ... that pass the generator's
// truth filter; the list does not depend on `threads`. Throws ConfigError if
// no event of the first limits.empty_candidates passes, or if the measured
// efficiency implies more than limits.max_candidates candidates.
inline FilteredIndices select_filtered_indices(const EventGenerator& generator, std::size_t events, unsigned threads,
                                               const FilterSearchLimits& limits = {}) {
  constexpr std::uint64_t block = 1U << 16;
  threads = detail::resolve_threads(threads);

  FilteredIndices selected;
  selected.indices.reserve(events);
  std::vector<std::vector<std::uint64_t>> kept(threads);
  while (selected.indices.size() < events) {
    // One block per thread per round; blocks are appended in index order.
    const std::uint64_t first = selected.candidates;
    detail::parallel_ranges(threads, threads, [&](std::size_t begin, std::size_t end) {
      for (std::size_t t = begin; t < end; ++t) {
        kept[t].clear();
        const std::uint64_t start = first + t * block;
        for (std::uint64_t index = start; index < start + block; ++index) {
          if (generator.accepts(index)) {
            kept[t].push_back(index);
          }
        }
      }
    });
    for (const std::vector<std::uint64_t>& block_indices : kept) {
      for (std::uint64_t index : block_indices) {
        if (selected.indices.size() < events) {
          selected.indices.push_back(index);
          selected.candidates = index + 1;
        }
      }
    }
    if (selected.indices.size() < events) {
      selected.candidates = first + threads * block;
    }

    if (selected.indices.empty() && selected.candidates >= limits.empty_candidates) {
      throw ConfigError("truth filter: no event of " + std::to_string(selected.candidates) +
                        " candidates has a true MET in " + detail::describe_window(generator.config().filter) +
                        "; widen the window (e.g. lower min_true_met)");
    }
    if (!selected.indices.empty() && selected.indices.size() < events) {
      const double needed = static_cast<double>(events) / selected.efficiency();
      if (needed > static_cast<double>(limits.max_candidates)) {
        throw ConfigError("truth filter: a true MET in " + detail::describe_window(generator.config().filter) + " keeps " + std::to_string(selected.efficiency()) +
                          " of the events, so " + std::to_string(events) +
                          " events would need more than " + std::to_string(limits.max_candidates) +
                          " candidates; widen the window or ask for fewer events");
      }
    }
  }
  return selected;
}

// Fills row r of `values` with event indices[r] (or event r when `indices`
// is empty), for rows [begin, end).
inline void fill_event_rows(const EventGenerator& generator, std::span<const std::uint64_t> indices,
                            Matrix<float>& values, std::size_t begin, std::size_t end, unsigned threads) {
  detail::parallel_ranges(end - begin, detail::resolve_threads(threads), [&](std::size_t first, std::size_t last) {
    for (std::size_t r = begin + first; r < begin + last; ++r) {
      const std::uint64_t index = indices.empty() ? r : indices[r];
      generator.generate_row(index, values.row(static_cast<Index>(r)).data());
    }
  });
}

// Generates a table with the columns of simulation_columns(). Row r is event
// indices[r], or event r when `indices` is empty. Rows are filled in chunks
// of 8192 events, and on_progress(rows done), if set, is called after each
// chunk. The table does not depend on `threads` (0 uses
// std::thread::hardware_concurrency()).
inline EventTable simulate_events(const EventGenerator& generator, std::span<const std::uint64_t> indices,
                                  std::size_t events, unsigned threads,
                                  const std::function<void(std::size_t)>& on_progress = {}) {
  if (!indices.empty() && indices.size() < events) {
    throw ConfigError("simulate_events: " + std::to_string(events) + " events requested but only " +
                      std::to_string(indices.size()) + " event indices given; pass one index per event or none");
  }
  std::vector<std::string> columns = simulation_columns();
  Matrix<float> values(static_cast<Index>(events), static_cast<Index>(columns.size()));
  constexpr std::size_t chunk = 8192;
  for (std::size_t begin = 0; begin < events; begin += chunk) {
    const std::size_t end = std::min(events, begin + chunk);
    fill_event_rows(generator, indices, values, begin, end, threads);
    if (on_progress) {
      on_progress(end);
    }
  }
  return EventTable(std::move(columns), std::move(values));
}

// Simulates `events` events of `process` into a table with the columns of
// simulation_columns(). threads = 0 uses std::thread::hardware_concurrency().
// The result is the same for every thread count. With an active truth
// filter the table contains the first `events` accepted events.
inline EventTable simulate(Process process, std::size_t events, const SimulationConfig& config, std::uint64_t seed,
                           unsigned threads = 1) {
  const EventGenerator generator(process, config, seed);
  std::vector<std::uint64_t> indices;
  if (config.filter.active()) {
    indices = select_filtered_indices(generator, events, threads).indices;
  }
  return simulate_events(generator, indices, events, threads);
}

}  // namespace metnet
