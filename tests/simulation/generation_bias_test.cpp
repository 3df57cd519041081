// SPDX-License-Identifier: MIT
#include <cmath>

#include <catch2/catch.hpp>

#include "metnet/simulation.hpp"

using metnet::Process;

namespace {

metnet::SimulationConfig biased_config(double scale) {
  metnet::SimulationConfig config;
  config.bias.mass_tail_scale = scale;
  return config;
}

double weighted_mean(const metnet::EventTable& table, const char* column) {
  const auto values = table.column(column).cast<double>();
  const auto weights = table.column("Weight").cast<double>();
  return (values.array() * weights.array()).sum() / weights.sum();
}

double fraction_above(const metnet::EventTable& table, const char* column, float threshold) {
  const auto values = table.column(column);
  return static_cast<double>((values.array() > threshold).count()) / static_cast<double>(values.size());
}

}  // namespace

TEST_CASE("mass bias of 1 keeps unbiased events", "[simulation][bias]") {
  const metnet::EventTable plain = metnet::simulate(Process::ttbar, 300, metnet::SimulationConfig{}, 8, 1);
  const metnet::EventTable unit = metnet::simulate(Process::ttbar, 300, biased_config(1.0), 8, 1);
  CHECK(plain.values() == unit.values());
  CHECK(plain.column("Weight").minCoeff() == 1.0F);
  CHECK(plain.column("Weight").maxCoeff() == 1.0F);
}

TEST_CASE("mass bias weights restore unbiased ttbar", "[simulation][bias]") {
  constexpr std::size_t events = 20000;
  const metnet::EventTable plain = metnet::simulate(Process::ttbar, events, metnet::SimulationConfig{}, 11, 2);
  const metnet::EventTable biased = metnet::simulate(Process::ttbar, events, biased_config(3.0), 12, 2);

  // E[w] = 1 under the biased density; the spread of w at scale 3 and shape
  // 1.3 is 1.07, so the mean of 20000 weights has an error of 0.008.
  CHECK(biased.column("Weight").cast<double>().mean() == Approx(1.0).margin(0.03));
  CHECK(biased.column("Weight").minCoeff() > 0.0F);

  // The tail is populated far more often, and the weights bring the mean
  // true MET back to the unbiased one (statistical error about 0.6 GeV).
  CHECK(fraction_above(biased, "True_ET", 300.0F) > 4.0 * fraction_above(plain, "True_ET", 300.0F));
  CHECK(weighted_mean(biased, "True_ET") == Approx(weighted_mean(plain, "True_ET")).margin(2.5));
  CHECK(weighted_mean(biased, "Tight_Final_SumET") ==
        Approx(weighted_mean(plain, "Tight_Final_SumET")).epsilon(0.02));
}

TEST_CASE("mass bias raises the truth filter efficiency", "[simulation][bias]") {
  metnet::SimulationConfig plain;
  plain.filter.min_true_met = 250.0;
  metnet::SimulationConfig biased = plain;
  biased.bias.mass_tail_scale = 4.0;
  const auto plain_efficiency =
      metnet::select_filtered_indices(metnet::EventGenerator(Process::ttbar, plain, 3), 100, 1).efficiency();
  const auto biased_efficiency =
      metnet::select_filtered_indices(metnet::EventGenerator(Process::ttbar, biased, 3), 100, 1).efficiency();
  CHECK(biased_efficiency > 3.0 * plain_efficiency);
}

TEST_CASE("mass bias is validated", "[simulation][bias]") {
  CHECK_THROWS_WITH(metnet::EventGenerator(Process::ttbar, biased_config(0.0), 1),
                    Catch::Contains("bias.mass_tail_scale") && Catch::Contains("> 0"));
  CHECK_THROWS_AS(metnet::EventGenerator(Process::ttbar, biased_config(std::nan("")), 1), metnet::ConfigError);
}
