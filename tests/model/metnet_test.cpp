// SPDX-License-Identifier: MIT
// Tests of the MetNet facade on small simulated samples: training improves
// on no network, predictions survive a save and load bit for bit, the
// single-event path equals the batch path, and bad input is rejected.
#include <cmath>
#include <filesystem>
#include <limits>

#include <catch2/catch.hpp>

#include "metnet/io.hpp"
#include "metnet/metnet.hpp"
#include "../support/model_checks.hpp"

namespace {

using metnet::EventTable;
using metnet::Index;
using metnet::test::rms_to_truth;

// Small ttbar samples shared by the tests (simulated once).
const EventTable& training_events() {
  static const EventTable events = metnet::simulate(metnet::Process::ttbar, 30000, metnet::SimulationConfig{}, 11);
  return events;
}

const EventTable& test_events() {
  static const EventTable events = metnet::simulate(metnet::Process::ttbar, 2000, metnet::SimulationConfig{}, 12);
  return events;
}

metnet::TrainingOptions quick_options(int epochs = 3) {
  metnet::TrainingOptions options;
  options.epochs = epochs;
  options.batch_size = 256;
  options.patience = 0;
  options.seed = 5;
  return options;
}

const metnet::MetNet<metnet::Huber>& trained_huber() {
  static const metnet::MetNet<metnet::Huber> model = [] {
    metnet::MetNet<metnet::Huber> m(metnet::FeatureSchema{}, metnet::NetworkShape{2, 32});
    m.fit(training_events(), quick_options());
    return m;
  }();
  return model;
}

// Checks that two trained models have bit-identical layer weights.
void check_same_weights(const metnet::MetNet<metnet::Huber>& first, const metnet::MetNet<metnet::Huber>& second) {
  const auto a = first.document().network;
  const auto b = second.document().network;
  REQUIRE(a.linear.size() == b.linear.size());
  for (std::size_t i = 0; i < a.linear.size(); ++i) {
    CHECK(a.linear[i].weight == b.linear[i].weight);
    CHECK(a.linear[i].bias == b.linear[i].bias);
  }
}

std::filesystem::path scratch_file(const std::string& name) {
  const auto dir = std::filesystem::temp_directory_path() / "metnet_model_test";
  std::filesystem::create_directories(dir);
  return dir / name;
}

}  // namespace

TEST_CASE("MetNet training beats predicting the Tight MET poorly", "[model][fit]") {
  const auto& model = trained_huber();
  const EventTable& events = test_events();
  const auto prediction = model.predict(events);
  const double rms_net = rms_to_truth(events, prediction.px, prediction.py);
  const double rms_tight = rms_to_truth(events, events.column("Tight_Final_EX"), events.column("Tight_Final_EY"));
  const Eigen::VectorXf zero = Eigen::VectorXf::Zero(events.rows());
  const double rms_zero = rms_to_truth(events, zero, zero);
  INFO("RMS network " << rms_net << " GeV, Tight " << rms_tight << " GeV, zero " << rms_zero << " GeV");
  // A 2x32 network after 3 epochs on 27k events is near Tight (27-28 GeV);
  // a broken rotation or standardisation gives the spread of the truth (~50 GeV).
  CHECK(rms_net < 1.1 * rms_tight);
  CHECK(rms_net < 0.7 * rms_zero);
}

TEST_CASE("MetNet prediction columns are consistent", "[model][predict]") {
  const auto prediction = trained_huber().predict(test_events());
  for (Index i = 0; i < prediction.px.size(); ++i) {
    REQUIRE(std::isfinite(prediction.px(i)));
    CHECK_THAT(prediction.pt(i), Catch::Matchers::WithinRel(std::hypot(prediction.px(i), prediction.py(i)), 1e-6f));
    CHECK(prediction.phi(i) > -static_cast<float>(M_PI) - 1e-6f);
    CHECK(prediction.phi(i) <= static_cast<float>(M_PI) + 1e-6f);
  }
}

TEST_CASE("MetNet fit is reproducible from the seed", "[model][fit]") {
  metnet::MetNet<metnet::Huber> first(metnet::FeatureSchema{}, metnet::NetworkShape{1, 8});
  metnet::MetNet<metnet::Huber> second(metnet::FeatureSchema{}, metnet::NetworkShape{1, 8});
  first.fit(training_events(), quick_options(1));
  second.fit(training_events(), quick_options(1));
  check_same_weights(first, second);
}

TEST_CASE("MetNet save and load give identical predictions", "[model][io]") {
  const auto path = scratch_file("huber.json");
  metnet::save_metnet(trained_huber(), path);
  const auto loaded = metnet::load_metnet<metnet::Huber>(path);
  const auto before = trained_huber().predict(test_events());
  const auto after = loaded.predict(test_events());
  CHECK(before.px == after.px);
  CHECK(before.py == after.py);
}

TEST_CASE("MetNet load rejects a file trained with another loss", "[model][io]") {
  const auto path = scratch_file("huber_for_gnll.json");
  metnet::save_metnet(trained_huber(), path);
  CHECK_THROWS_AS(metnet::load_metnet<metnet::GaussianNll>(path), metnet::ConfigError);
  CHECK_THROWS_WITH(metnet::load_metnet<metnet::GaussianNll>(path), Catch::Contains("'huber'"));
}

TEST_CASE("MetNet single event equals batch prediction", "[model][predict]") {
  metnet::test::check_single_event_matches_batch(trained_huber(), test_events(), 50);
}

TEST_CASE("MetNet Gaussian NLL model predicts sigma and METNetSig", "[model][gnll]") {
  metnet::MetNet<metnet::GaussianNll> model(metnet::FeatureSchema{}, metnet::NetworkShape{2, 32});
  model.fit(training_events(), quick_options(2));
  const auto prediction = model.predict(test_events());
  for (Index i = 0; i < prediction.pt.size(); ++i) {
    REQUIRE(prediction.sigma(i) > 0.0f);
    CHECK_THAT(prediction.significance(i),
               Catch::Matchers::WithinRel(prediction.pt(i) / prediction.sigma(i), 1e-4f));
  }
  // The predicted widths are GeV-scale: the ttbar resolution is about 25 GeV.
  CHECK(prediction.sigma.mean() > 5.0f);
  CHECK(prediction.sigma.mean() < 100.0f);
}

template <class Prediction>
concept HasSigma = requires(Prediction p) { p.sigma; };

TEST_CASE("MetNet Huber prediction has no sigma member", "[model][predict]") {
  STATIC_REQUIRE_FALSE(HasSigma<metnet::MetNet<metnet::Huber>::BatchPrediction>);
  STATIC_REQUIRE_FALSE(HasSigma<metnet::MetNet<metnet::HuberSinkhorn>::EventPrediction>);
  STATIC_REQUIRE(HasSigma<metnet::MetNet<metnet::GaussianNll>::BatchPrediction>);
}

TEST_CASE("MetNet rejects a table without a feature column", "[model][errors]") {
  EventTable events = test_events();
  std::vector<std::string> columns = events.columns();
  const auto it = std::find(columns.begin(), columns.end(), "Calo_Final_EX");
  REQUIRE(it != columns.end());
  *it = "Calo_Final_EX_renamed";
  const EventTable renamed(columns, events.values());
  CHECK_THROWS_AS(trained_huber().predict(renamed), metnet::FormatError);
  CHECK_THROWS_WITH(trained_huber().predict(renamed), Catch::Contains("missing column 'Calo_Final_EX'"));
}

TEST_CASE("MetNet rejects NaN inputs naming the row", "[model][errors]") {
  EventTable events = test_events();
  events.column("Loose_Final_SumET")(7) = std::numeric_limits<float>::quiet_NaN();
  CHECK_THROWS_AS(trained_huber().predict(events), metnet::NumericError);
  CHECK_THROWS_WITH(trained_huber().predict(events), Catch::Contains("row 7"));
}

TEST_CASE("MetNet rejects a table in MeV", "[model][errors]") {
  EventTable events = test_events();
  events.values() *= 1000.0f;
  CHECK_THROWS_AS(trained_huber().predict(events), metnet::ConfigError);
  CHECK_THROWS_WITH(trained_huber().predict(events), Catch::Contains("MeV"));
}

TEST_CASE("MetNet rejects an empty table", "[model][errors]") {
  const EventTable empty(test_events().columns(), metnet::Matrix<float>(0, test_events().cols()));
  CHECK_THROWS_AS(trained_huber().predict(empty), metnet::FormatError);
}

TEST_CASE("MetNet predicts an event with zero Tight MET", "[model][predict]") {
  EventTable events = test_events();
  for (const char* name : {"Tight_Final_EX", "Tight_Final_EY"}) {
    events.column(name)(0) = -0.0f;
  }
  const auto prediction = trained_huber().predict(events);
  CHECK(std::isfinite(prediction.px(0)));
  CHECK(std::isfinite(prediction.phi(0)));
}

TEST_CASE("MetNet refuses to predict before training", "[model][errors]") {
  const metnet::MetNet<metnet::Huber> model;
  CHECK_THROWS_AS(model.predict(test_events()), metnet::ConfigError);
}

TEST_CASE("MetNet resume after interruption matches an uninterrupted run", "[model][checkpoint]") {
  const auto checkpoint = scratch_file("resume.ckpt");
  std::filesystem::remove(checkpoint);
  metnet::TrainingOptions options = quick_options(3);
  options.checkpoint_every = 10;

  metnet::MetNet<metnet::Huber> uninterrupted(metnet::FeatureSchema{}, metnet::NetworkShape{1, 16});
  uninterrupted.fit(training_events(), options);

  // Stop the first run inside epoch 1 by throwing from the progress callback,
  // as a killed job would stop; the last checkpoint is at batch 20.
  struct Interrupted {};
  metnet::TrainingOptions interrupted_options = options;
  interrupted_options.checkpoint_path = checkpoint;
  interrupted_options.report_every = 5;
  interrupted_options.progress = [](const metnet::TrainingProgress& progress) {
    if (progress.epoch == 1 && progress.batch == 25) {
      throw Interrupted{};
    }
  };
  metnet::MetNet<metnet::Huber> first(metnet::FeatureSchema{}, metnet::NetworkShape{1, 16});
  CHECK_THROWS_AS(first.fit(training_events(), interrupted_options), Interrupted);
  REQUIRE(std::filesystem::exists(checkpoint));

  metnet::TrainingOptions resume_options = options;
  resume_options.checkpoint_path = checkpoint;
  resume_options.resume = true;
  metnet::MetNet<metnet::Huber> resumed(metnet::FeatureSchema{}, metnet::NetworkShape{1, 16});
  const auto result = resumed.fit(training_events(), resume_options);
  CHECK(result.train_loss.size() == 3);

  check_same_weights(uninterrupted, resumed);
}

TEST_CASE("MetNet resume rejects a checkpoint of other settings", "[model][checkpoint]") {
  const auto checkpoint = scratch_file("other.ckpt");
  std::filesystem::remove(checkpoint);
  metnet::TrainingOptions options = quick_options(1);
  options.checkpoint_path = checkpoint;
  metnet::MetNet<metnet::Huber> model(metnet::FeatureSchema{}, metnet::NetworkShape{1, 16});
  model.fit(training_events(), options);

  options.resume = true;
  options.seed = 99;
  metnet::MetNet<metnet::Huber> other(metnet::FeatureSchema{}, metnet::NetworkShape{1, 16});
  CHECK_THROWS_AS(other.fit(training_events(), options), metnet::ConfigError);
  CHECK_THROWS_WITH(other.fit(training_events(), options), Catch::Contains("belongs to other training events"));
}

TEST_CASE("MetNet checkpoint reader rejects a truncated file", "[model][checkpoint]") {
  const auto checkpoint = scratch_file("truncated.ckpt");
  std::filesystem::remove(checkpoint);
  metnet::TrainingOptions options = quick_options(1);
  options.checkpoint_path = checkpoint;
  metnet::MetNet<metnet::Huber> model(metnet::FeatureSchema{}, metnet::NetworkShape{1, 16});
  model.fit(training_events(), options);
  std::filesystem::resize_file(checkpoint, std::filesystem::file_size(checkpoint) / 2);

  options.resume = true;
  metnet::MetNet<metnet::Huber> resumed(metnet::FeatureSchema{}, metnet::NetworkShape{1, 16});
  CHECK_THROWS_AS(resumed.fit(training_events(), options), metnet::FormatError);
  CHECK_THROWS_WITH(resumed.fit(training_events(), options), Catch::Contains("truncated checkpoint"));
}

TEST_CASE("cosine decay spans every fit step", "[model][fit]") {
  metnet::TrainingOptions options = quick_options(3);
  options.validation_fraction = 0.1;
  options.adam.lr = 2e-3;
  // 3000 events: 300 held out, 2700 / 256 = 10 full batches per epoch.
  const metnet::CosineWarmRestarts schedule = metnet::cosine_decay(options, 3000);
  CHECK(schedule.cycle_steps == 30);
  CHECK(schedule.max_lr == 2e-3);
  CHECK_THAT(schedule.min_lr, Catch::Matchers::WithinRel(2e-5, 1e-12));
  CHECK(schedule(0) == 2e-3);
  CHECK_THAT(schedule(15), Catch::Matchers::WithinRel((2e-3 + 2e-5) / 2.0, 1e-12));
  CHECK(schedule(29) < 1.5 * 2e-5);

  // fit makes exactly cycle_steps optimiser steps on those 3000 events.
  Index steps = 0;
  options.report_every = 1;
  options.progress = [&](const metnet::TrainingProgress& progress) { steps += progress.epoch_end ? 0 : 1; };
  metnet::MetNet<metnet::Huber> model(metnet::FeatureSchema{}, metnet::NetworkShape{1, 4});
  const EventTable events = metnet::simulate(metnet::Process::ttbar, 3000, metnet::SimulationConfig{}, 13);
  options.adam.schedule = schedule;
  model.fit(events, options);
  CHECK(steps == 30);
}

TEST_CASE("MetNet keeps the best or the last epoch", "[model][fit]") {
  metnet::TrainingOptions options = quick_options(3);
  metnet::MetNet<metnet::Huber> best(metnet::FeatureSchema{}, metnet::NetworkShape{1, 16});
  const auto result = best.fit(training_events(), options);
  REQUIRE(result.best_epoch >= 0);

  // Training stops after the best epoch and keeps its last epoch: the same
  // trajectory, so the same weights as the best epoch of the longer run.
  options.keep_best = false;
  options.epochs = result.best_epoch + 1;
  metnet::MetNet<metnet::Huber> truncated(metnet::FeatureSchema{}, metnet::NetworkShape{1, 16});
  truncated.fit(training_events(), options);
  check_same_weights(best, truncated);

  options.epochs = 3;
  metnet::MetNet<metnet::Huber> last(metnet::FeatureSchema{}, metnet::NetworkShape{1, 16});
  last.fit(training_events(), options);
  const bool same = best.document().network.linear[0].weight == last.document().network.linear[0].weight;
  CHECK(same == (result.best_epoch == 2));
}
