// SPDX-License-Identifier: MIT
// MetNet::fit on several threads: the trained weights equal those of one
// thread bit for bit, also when a run is resumed on another thread count.

#include <unistd.h>

#include <filesystem>
#include <string>

#include <catch2/catch.hpp>

#include "metnet/metnet.hpp"

namespace {

using metnet::EventTable;

const EventTable& thread_test_events() {
  static const EventTable events = metnet::simulate(metnet::Process::ttbar, 3000, metnet::SimulationConfig{}, 21);
  return events;
}

metnet::TrainingOptions thread_test_options(int threads) {
  metnet::TrainingOptions options;
  options.epochs = 2;
  options.batch_size = 256;
  options.patience = 0;
  options.seed = 9;
  options.threads = threads;
  return options;
}

metnet::MlpWeights<float> trained_weights(const metnet::TrainingOptions& options) {
  const metnet::FeatureSchema schema{};
  metnet::MetNet<metnet::Huber> model(schema, metnet::NetworkShape{2, 40});
  model.fit(thread_test_events(), options);
  return model.document().network;
}

void check_same_network(const metnet::MlpWeights<float>& first, const metnet::MlpWeights<float>& second) {
  REQUIRE(first.linear.size() == second.linear.size());
  for (std::size_t i = 0; i < first.linear.size(); ++i) {
    INFO("layer " << i);
    CHECK(first.linear[i].weight == second.linear[i].weight);
    CHECK(first.linear[i].bias == second.linear[i].bias);
  }
  REQUIRE(first.norm.size() == second.norm.size());
  for (std::size_t i = 0; i < first.norm.size(); ++i) {
    INFO("norm " << i);
    CHECK(first.norm[i].gamma == second.norm[i].gamma);
    CHECK(first.norm[i].beta == second.norm[i].beta);
  }
}

}  // namespace

TEST_CASE("fit on two threads equals one thread", "[model][fit][threads]") {
  check_same_network(trained_weights(thread_test_options(1)), trained_weights(thread_test_options(2)));
}

TEST_CASE("fit resumes on another thread count", "[model][fit][threads]") {
  const std::filesystem::path checkpoint =
      std::filesystem::temp_directory_path() /
      ("metnet_fit_threads_test_" + std::to_string(::getpid()) + "_checkpoint.json");
  std::filesystem::remove(checkpoint);

  // One epoch on two threads, then the second epoch resumed on one thread.
  metnet::TrainingOptions first = thread_test_options(2);
  first.epochs = 1;
  first.checkpoint_path = checkpoint;
  trained_weights(first);
  REQUIRE(std::filesystem::exists(checkpoint));
  metnet::TrainingOptions resumed = thread_test_options(1);
  resumed.checkpoint_path = checkpoint;
  resumed.resume = true;
  const metnet::MlpWeights<float> resumed_weights = trained_weights(resumed);
  std::filesystem::remove(checkpoint);

  check_same_network(trained_weights(thread_test_options(1)), resumed_weights);
}

TEST_CASE("fit rejects zero threads", "[model][fit][threads]") {
  const metnet::FeatureSchema schema{};
  metnet::MetNet<metnet::Huber> model(schema, metnet::NetworkShape{1, 8});
  CHECK_THROWS_WITH(model.fit(thread_test_events(), thread_test_options(0)),
                    Catch::Contains("expected threads >= 1, found 0"));
}
