// SPDX-License-Identifier: MIT
// MetNet training steps and predictions with the floating-point exceptions
// invalid, divide-by-zero and overflow trapped (glibc's feenableexcept): a
// NaN, an exp overflow or a division by zero stops the test with SIGFPE.
// The events are simulated and edited before the traps are enabled, so only
// training and prediction run under them. The last test checks the other
// side: a loss that does become infinite stops fit with a message naming
// the epoch, the batch and the quantity, and the last checkpoint stays
// readable and finite.

#include <fenv.h>

#include <cmath>
#include <filesystem>

#include <catch2/catch.hpp>

#include "../support/floating_point_traps.hpp"

#include "../data/message_has.hpp"
#include "../data/temp_dir.hpp"
#include "metnet/metnet.hpp"
#include "small_model.hpp"

namespace {

using metnet::EventTable;
using metnet::Index;
using metnet::Matrix;
using metnet::test::MessageHas;

using metnet::test::TrapFloatingPointExceptions;

// Training events with the awkward cases mixed in: events with zero Tight
// MET, a constant feature column, and Z->mumu events whose true MET is zero.
const EventTable& awkward_events() {
  static const EventTable events = [] {
    const EventTable ttbar = metnet::simulate(metnet::Process::ttbar, 1200, metnet::SimulationConfig{}, 51);
    const EventTable zmumu = metnet::simulate(metnet::Process::zmumu, 400, metnet::SimulationConfig{}, 52);
    Matrix<float> values(ttbar.rows() + zmumu.rows(), ttbar.cols());
    values << ttbar.values(), zmumu.values();
    EventTable table(ttbar.columns(), std::move(values));
    for (Index i = ttbar.rows(); i < table.rows(); ++i) {
      table.column("True_EX")(i) = 0.0F;
      table.column("True_EY")(i) = 0.0F;
    }
    for (Index i = 0; i < 50; ++i) {
      table.column("Tight_Final_EX")(i) = 0.0F;
      table.column("Tight_Final_EY")(i) = 0.0F;
      table.column("Tight_Final_ET")(i) = 0.0F;
    }
    table.column("Track_Final_SumET").setConstant(25.0F);
    return table;
  }();
  return events;
}

// Event rows at mean + z * std of every standardised input (event_columns() order).
template <class Model>
Matrix<float> standardised_rows(const Model& model, double z) {
  const metnet::ModelDocument document = model.document();
  const auto& names = model.event_columns();
  Matrix<float> rows(1, static_cast<Index>(names.size()));
  for (std::size_t k = 0; k < names.size(); ++k) {
    const auto col = static_cast<Index>(k);
    if (k < document.schema.inputs.size()) {
      rows(0, col) = static_cast<float>(document.input_scaling.mean()(col) + z * document.input_scaling.std()(col));
    } else {
      rows(0, col) = static_cast<float>(z);  // a reference MET component that is not an input
    }
  }
  return rows;
}

template <class L>
void train_and_predict_with_traps(Index batch_size) {
  const EventTable& events = awkward_events();
  const EventTable test = metnet::simulate(metnet::Process::zmumu, 64, metnet::SimulationConfig{}, 53);
  const metnet::FeatureSchema schema;  // named: see train_small in small_model.hpp
  metnet::MetNet<L> model(schema, metnet::NetworkShape{2, 16});
  metnet::TrainingOptions options = metnet::test::small_training(1, batch_size);

  TrapFloatingPointExceptions traps;
  model.fit(events, options);
  const auto batch = model.predict(test);
  CHECK(batch.px.allFinite());
  CHECK(batch.py.allFinite());
  for (const double z : {0.0, 1e4, -1e4}) {
    INFO("inputs at mean + " << z << " std");
    const Matrix<float> rows = standardised_rows(model, z);
    const auto event = model.predict_event(metnet::test::row_span(rows, 0));
    CHECK(std::isfinite(event.px));
    CHECK(std::isfinite(event.py));
    CHECK(std::isfinite(event.pt));
  }
  Matrix<float> zero_met = metnet::test::event_rows(model, test).topRows(1);
  zero_met.setZero();
  const auto event = model.predict_event(metnet::test::row_span(zero_met, 0));
  CHECK(std::isfinite(event.pt));
}

}  // namespace

TEST_CASE("Huber training raises no FP exception", "[hardening][fpe]") {
  train_and_predict_with_traps<metnet::Huber>(128);
}

TEST_CASE("HuberSinkhorn small batches raise no FP exception", "[hardening][fpe]") {
  train_and_predict_with_traps<metnet::HuberSinkhorn>(16);
}

TEST_CASE("GaussianNll training raises no FP exception", "[hardening][fpe]") {
  train_and_predict_with_traps<metnet::GaussianNll>(128);
}

TEST_CASE("GaussianNll sigma stays finite on extreme inputs", "[hardening][fpe]") {
  auto model = metnet::test::train_small<metnet::GaussianNll>(metnet::test::small_ttbar());
  TrapFloatingPointExceptions traps;
  for (const double z : {1e4, -1e4}) {
    INFO("inputs at mean + " << z << " std");
    const Matrix<float> rows = standardised_rows(model, z);
    const auto event = model.predict_event(metnet::test::row_span(rows, 0));
    CHECK(std::isfinite(event.sigma_x));
    CHECK(std::isfinite(event.sigma_y));
    CHECK(std::isfinite(event.significance));
  }
}

TEST_CASE("infinite loss stops fit and keeps the checkpoint", "[hardening][fpe]") {
  const metnet::test::TempDir dir;
  metnet::TrainingOptions options = metnet::test::small_training(3, 64);
  options.adam.lr = 1e30;  // the first Adam step moves every weight by about 1e30
  options.checkpoint_path = dir / "run.ckpt";
  options.checkpoint_every = 1;
  metnet::MetNet<metnet::Huber> model(metnet::FeatureSchema{}, metnet::NetworkShape{2, 16});

  CHECK_THROWS_MATCHES(model.fit(metnet::test::small_ttbar(), options), metnet::NumericError,
                       MessageHas("epoch 0, batch ") && MessageHas("loss is not finite") &&
                           MessageHas("last good checkpoint is kept in"));
  CHECK_FALSE(model.is_trained());

  // The checkpoint of the last finished batch reads back whole, with finite weights.
  REQUIRE(std::filesystem::exists(options.checkpoint_path));
  metnet::MlpConfig config;
  config.inputs = static_cast<Index>(metnet::FeatureSchema{}.inputs.size());
  config.outputs = 2;
  config.hidden_layers = 2;
  config.width = 16;
  metnet::Rng rng(1, 1);
  metnet::Mlp<float> shape(config, rng);
  const metnet::Adam<float> adam(shape.parameters(), options.adam);
  const metnet::TrainingCheckpoint checkpoint = metnet::read_checkpoint(options.checkpoint_path, shape.weights(), adam.state());
  CHECK(checkpoint.epoch == 0);
  CHECK(checkpoint.next_batch >= 1);
  for (const auto& layer : checkpoint.current.linear) {
    CHECK(layer.weight.allFinite());
    CHECK(layer.bias.allFinite());
  }
}
