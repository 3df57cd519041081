// SPDX-License-Identifier: MIT
// Tests of residual targets (true MET minus Tight MET) in the MetNet facade,
// and of the shifted loss that lets a Sinkhorn term compare full MET.
#include <cmath>
#include <filesystem>
#include <vector>

#include <catch2/catch.hpp>

#include "metnet/io.hpp"
#include "metnet/metnet.hpp"
#include "../support/model_checks.hpp"
#include "metnet/model/detail/shifted_loss.hpp"

namespace {

using metnet::EventTable;
using metnet::Index;
using metnet::test::rms_to_truth;
using metnet::Matrix;

const EventTable& training_events() {
  static const EventTable events = metnet::simulate(metnet::Process::ttbar, 30000, metnet::SimulationConfig{}, 21);
  return events;
}

const EventTable& test_events() {
  static const EventTable events = metnet::simulate(metnet::Process::ttbar, 2000, metnet::SimulationConfig{}, 22);
  return events;
}

metnet::TrainingOptions quick_options() {
  metnet::TrainingOptions options;
  options.epochs = 3;
  options.batch_size = 256;
  options.patience = 0;
  options.seed = 3;
  return options;
}

metnet::FeatureSchema residual_schema() {
  metnet::FeatureSchema schema;
  schema.residual = true;
  return schema;
}

double tight_rms(const EventTable& events) {
  return rms_to_truth(events, events.column("Tight_Final_EX"), events.column("Tight_Final_EY"));
}

const metnet::MetNet<metnet::Huber>& residual_huber() {
  static const metnet::MetNet<metnet::Huber> model = [] {
    const metnet::FeatureSchema schema = residual_schema();
    metnet::MetNet<metnet::Huber> m(schema, metnet::NetworkShape{2, 32});
    m.fit(training_events(), quick_options());
    return m;
  }();
  return model;
}

Matrix<float> random_matrix(Index rows, Index cols, unsigned seed) {
  std::srand(seed);
  return Matrix<float>::Random(rows, cols);
}

}  // namespace

TEST_CASE("residual model improves on Tight", "[model][residual]") {
  const auto prediction = residual_huber().predict(test_events());
  const double rms_net = rms_to_truth(test_events(), prediction.px, prediction.py);
  INFO("RMS residual network " << rms_net << " GeV, Tight " << tight_rms(test_events()) << " GeV");
  CHECK(rms_net < tight_rms(test_events()));
}

TEST_CASE("residual model stays near Tight", "[model][residual]") {
  // The network predicts a correction of a few GeV to the Tight MET; a
  // reference that is not added back shows up as a shift of the Tight size.
  const EventTable& events = test_events();
  const auto prediction = residual_huber().predict(events);
  const auto tight_x = events.column("Tight_Final_EX");
  const auto tight_y = events.column("Tight_Final_EY");
  double correction = 0.0;
  double tight = 0.0;
  for (Index i = 0; i < events.rows(); ++i) {
    correction += std::hypot(prediction.px(i) - tight_x(i), prediction.py(i) - tight_y(i));
    tight += std::hypot(tight_x(i), tight_y(i));
  }
  INFO("mean correction " << correction / events.rows() << " GeV, mean Tight MET " << tight / events.rows() << " GeV");
  CHECK(correction < 0.5 * tight);
}

TEST_CASE("residual model survives save and load", "[model][residual][io]") {
  const auto path = std::filesystem::temp_directory_path() / "metnet_residual_test.json";
  metnet::save_metnet(residual_huber(), path);
  const auto loaded = metnet::load_metnet<metnet::Huber>(path);
  CHECK(loaded.schema().residual);
  const auto before = residual_huber().predict(test_events());
  const auto after = loaded.predict(test_events());
  CHECK(before.px == after.px);
  CHECK(before.py == after.py);
  std::filesystem::remove(path);
}

TEST_CASE("residual single event equals batch", "[model][residual][predict]") {
  metnet::test::check_single_event_matches_batch(residual_huber(), test_events(), 50);
}

TEST_CASE("residual Huber plus Sinkhorn stays near Tight", "[model][residual][sinkhorn]") {
  const metnet::FeatureSchema schema = residual_schema();
  metnet::MetNet<metnet::HuberSinkhorn> model(schema, metnet::NetworkShape{2, 32});
  model.fit(training_events(), quick_options());
  const auto prediction = model.predict(test_events());
  const double rms_net = rms_to_truth(test_events(), prediction.px, prediction.py);
  INFO("RMS residual Huber + Sinkhorn " << rms_net << " GeV, Tight " << tight_rms(test_events()) << " GeV");
  // 3 epochs of a 2 x 32 network reach about 1.01 x Tight. A Sinkhorn term
  // on the batches of corrections instead of full MET spread the
  // predictions, giving 1.13 x Tight on ttbar after full training.
  CHECK(rms_net < 1.05 * tight_rms(test_events()));
}

TEST_CASE("shifted loss keeps Huber of differences", "[model][shifted_loss]") {
  const metnet::Huber huber;
  const Matrix<float> output = 3.0F * random_matrix(64, 2, 1);
  const Matrix<float> target = 3.0F * random_matrix(64, 2, 2);
  const Matrix<float> offset = 20.0F * random_matrix(64, 2, 3);
  const metnet::Vector<float> weights = metnet::Vector<float>::Ones(64);
  const metnet::detail::ShiftedLoss<metnet::Huber> shifted(huber, offset);

  Matrix<float> plain_gradient;
  Matrix<float> shifted_gradient;
  const float plain = huber.value_and_gradient<float>(output, target, weights, plain_gradient);
  const float value = shifted.value_and_gradient<float>(output, target, weights, shifted_gradient);
  // (o + a) - (t + a) differs from o - t by float rounding of values up to 23.
  CHECK_THAT(value, Catch::Matchers::WithinRel(plain, 1e-5F));
  CHECK(shifted_gradient.isApprox(plain_gradient, 1e-4F));
  CHECK_THAT(shifted.value<float>(output, target, weights), Catch::Matchers::WithinRel(value, 1e-6F));
}

TEST_CASE("shifted loss gives Sinkhorn of full clouds", "[model][shifted_loss]") {
  metnet::Sinkhorn sinkhorn;
  sinkhorn.epsilon = 0.05;
  const Matrix<float> output = random_matrix(48, 2, 4);
  const Matrix<float> target = random_matrix(48, 2, 5);
  const Matrix<float> offset = 2.0F * random_matrix(48, 2, 6);
  const metnet::Vector<float> weights = metnet::Vector<float>::Ones(48);

  Matrix<float> expected_gradient;
  const Matrix<float> full_output = output + offset;
  const Matrix<float> full_target = target + offset;
  const float expected = sinkhorn.value_and_gradient<float>(full_output, full_target, weights, expected_gradient);

  const metnet::detail::ShiftedLoss<metnet::Sinkhorn> shifted(sinkhorn, offset);
  Matrix<float> gradient;
  const float value = shifted.value_and_gradient<float>(output, target, weights, gradient);
  CHECK(value == expected);
  CHECK(gradient == expected_gradient);

  // The shift changes the Sinkhorn divergence, unlike a loss of differences.
  Matrix<float> unshifted_gradient;
  const float unshifted = sinkhorn.value_and_gradient<float>(output, target, weights, unshifted_gradient);
  CHECK(std::abs(unshifted - value) > 1e-3F);
}

TEST_CASE("shifted loss moves Gaussian NLL means only", "[model][shifted_loss]") {
  const metnet::GaussianNll nll;
  Matrix<float> output = random_matrix(32, 4, 7);
  const Matrix<float> target = random_matrix(32, 2, 8);
  const Matrix<float> offset = 5.0F * random_matrix(32, 2, 9);
  const metnet::Vector<float> weights = metnet::Vector<float>::Ones(32);
  const metnet::detail::ShiftedLoss<metnet::GaussianNll> shifted(nll, offset);
  // Columns 1 and 3 are the raw scales: shifting them would change the value.
  CHECK_THAT(shifted.value<float>(output, target, weights),
             Catch::Matchers::WithinRel(nll.value<float>(output, target, weights), 1e-5F));
}

TEST_CASE("shifted loss rejects offset of other shape", "[model][shifted_loss]") {
  const metnet::Huber huber;
  const Matrix<float> output = random_matrix(8, 2, 10);
  const Matrix<float> offset = random_matrix(7, 2, 11);
  const metnet::Vector<float> weights = metnet::Vector<float>::Ones(8);
  const metnet::detail::ShiftedLoss<metnet::Huber> shifted(huber, offset);
  CHECK_THROWS_WITH(shifted.value<float>(output, output, weights), Catch::Contains("expected an offset of 8 x 2"));
}
