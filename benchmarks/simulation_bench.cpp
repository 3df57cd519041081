// SPDX-License-Identifier: MIT
// Single-thread speed of the parametric simulation: one event generated and
// written as a table row per iteration, for ttbar, Z -> mu mu and WW with
// the default (Run-2 mu profile) configuration. The goal is at least
// 100,000 ttbar events per second on one core.
//
// BM_Simulation_Rng/normal is the baseline: the cost of one normal deviate,
// to express an event's cost in random draws. Run on a loaded machine with
//   --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
// and read the median.

#include <cstdint>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>

#include "metnet/simulation.hpp"

namespace {

void generate_events(benchmark::State& state, metnet::Process process) {
  const metnet::EventGenerator generator(process, metnet::SimulationConfig{}, 20210823);
  std::vector<float> row(metnet::simulation_columns().size());
  std::uint64_t index = 0;
  for (auto _ : state) {
    generator.generate_row(index++, row.data());
    benchmark::DoNotOptimize(row.data());
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_Simulation_Rng(benchmark::State& state) {
  metnet::Rng rng(1);
  for (auto _ : state) {
    benchmark::DoNotOptimize(rng.normal());
  }
  state.SetItemsProcessed(state.iterations());
}

}  // namespace

BENCHMARK_CAPTURE(generate_events, BM_Simulation_Generate/ttbar, metnet::Process::ttbar)->Name("BM_Simulation_Generate/ttbar");
BENCHMARK_CAPTURE(generate_events, BM_Simulation_Generate/zmumu, metnet::Process::zmumu)->Name("BM_Simulation_Generate/zmumu");
BENCHMARK_CAPTURE(generate_events, BM_Simulation_Generate/ww, metnet::Process::ww)->Name("BM_Simulation_Generate/ww");
BENCHMARK(BM_Simulation_Rng)->Name("BM_Simulation_Rng/normal");

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) {
    return 1;
  }
  benchmark::AddCustomContext("compiler and flags", METNET_BENCH_COMPILER_FLAGS);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
