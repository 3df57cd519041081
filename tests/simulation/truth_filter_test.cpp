// SPDX-License-Identifier: MIT
#include <algorithm>
#include <cstdint>
#include <vector>

#include <catch2/catch.hpp>

#include "metnet/simulation.hpp"

using metnet::Process;

namespace {

metnet::SimulationConfig filtered_config(double min_true_met, double max_true_met) {
  metnet::SimulationConfig config;
  config.filter.min_true_met = min_true_met;
  config.filter.max_true_met = max_true_met;
  return config;
}

}  // namespace

TEST_CASE("truth filter keeps unfiltered events", "[simulation][filter]") {
  const metnet::SimulationConfig plain;
  const metnet::SimulationConfig config = filtered_config(150.0, 1.0e9);
  const metnet::EventGenerator generator(Process::ttbar, config, 5);

  const metnet::FilteredIndices selected = metnet::select_filtered_indices(generator, 40, 1);
  REQUIRE(selected.indices.size() == 40);
  REQUIRE(selected.candidates == selected.indices.back() + 1);
  CHECK(std::is_sorted(selected.indices.begin(), selected.indices.end()));

  // Every index below the last kept one is either kept and accepted, or rejected.
  std::size_t next = 0;
  for (std::uint64_t index = 0; index < selected.candidates; ++index) {
    const bool kept = next < selected.indices.size() && selected.indices[next] == index;
    CHECK(generator.accepts(index) == kept);
    next += kept ? 1 : 0;
  }

  // Row k of the filtered table is the unfiltered event indices[k].
  const metnet::EventTable filtered = metnet::simulate(Process::ttbar, 40, config, 5, 1);
  const metnet::EventTable all = metnet::simulate(Process::ttbar, selected.candidates, plain, 5, 1);
  for (std::size_t k = 0; k < selected.indices.size(); ++k) {
    CHECK(filtered.values().row(static_cast<metnet::Index>(k)) ==
          all.values().row(static_cast<metnet::Index>(selected.indices[k])));
  }
}

TEST_CASE("truth filter selects true MET window", "[simulation][filter]") {
  const metnet::EventTable table = metnet::simulate(Process::ttbar, 2000, filtered_config(200.0, 400.0), 9, 2);
  const auto true_met = table.column("True_ET");
  // True_ET adds the neutrinos of semileptonic b decays to the filtered
  // hard-process value, which moves about 2 % of the events more than 20 GeV
  // out of the window (1967 of 2000 stay inside with seed 9).
  const auto inside = (true_met.array() >= 180.0F && true_met.array() < 420.0F).count();
  CHECK(inside >= 1940);
  CHECK(true_met.minCoeff() > 100.0F);
}

TEST_CASE("truth filter is independent of threads", "[simulation][filter]") {
  const metnet::SimulationConfig config = filtered_config(120.0, 1.0e9);
  const metnet::EventTable one = metnet::simulate(Process::ww, 300, config, 4, 1);
  const metnet::EventTable three = metnet::simulate(Process::ww, 300, config, 4, 3);
  CHECK(one.values() == three.values());
}

TEST_CASE("truth filter efficiency counts candidates", "[simulation][filter]") {
  const metnet::EventGenerator generator(Process::ttbar, filtered_config(100.0, 1.0e9), 3);
  const metnet::FilteredIndices selected = metnet::select_filtered_indices(generator, 500, 2);
  REQUIRE(selected.indices.size() == 500);
  CHECK(selected.efficiency() == Approx(500.0 / static_cast<double>(selected.candidates)));
  CHECK(selected.efficiency() > 0.01);
  CHECK(selected.efficiency() < 0.5);
}

TEST_CASE("truth filter rejects empty window", "[simulation][filter]") {
  const metnet::EventGenerator generator(Process::zmumu, filtered_config(5000.0, 1.0e9), 1);
  metnet::FilterSearchLimits limits;
  limits.empty_candidates = 1U << 16;
  CHECK_THROWS_WITH(metnet::select_filtered_indices(generator, 10, 1, limits),
                    Catch::Contains("no event of 65536 candidates") && Catch::Contains("widen the window"));
}

TEST_CASE("truth filter rejects rare window", "[simulation][filter]") {
  const metnet::EventGenerator generator(Process::ttbar, filtered_config(150.0, 1.0e9), 1);
  metnet::FilterSearchLimits limits;
  limits.max_candidates = 100000;
  CHECK_THROWS_WITH(metnet::select_filtered_indices(generator, 100000, 1, limits),
                    Catch::Contains("would need more than 100000 candidates"));
}

TEST_CASE("truth filter settings are validated", "[simulation][filter]") {
  CHECK_THROWS_AS(metnet::EventGenerator(Process::ttbar, filtered_config(-1.0, 1.0e9), 1), metnet::ConfigError);
  CHECK_THROWS_AS(metnet::EventGenerator(Process::ttbar, filtered_config(300.0, 200.0), 1), metnet::ConfigError);
  const metnet::SimulationConfig plain;
  CHECK_FALSE(plain.filter.active());
  CHECK(filtered_config(0.0, 500.0).filter.active());
}
