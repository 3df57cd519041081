// SPDX-License-Identifier: MIT
// Predicts the MET of one event the way an analysis would: load a weights
// file once, then call predict_event per event with the values of
// model.event_columns() in GeV.
// Usage: example_predict_one_event [WEIGHTS.json]  (a Huber model, e.g.
// weights/metnet_huber.json; other losses load as MetNet<TheirLoss>)
// Without a weights file it trains a small Huber model in-process first.

#include <iostream>
#include <vector>

#include "metnet/io.hpp"
#include "metnet/metnet.hpp"

int run(int argc, char** argv) {
  // One simulated ttbar event plays the part of an event of your analysis.
  const metnet::EventTable event = metnet::simulate(metnet::Process::ttbar, 1, {}, /*seed=*/99);

  metnet::MetNet<metnet::Huber> model;
  if (argc > 1) {
    model = metnet::load_metnet<metnet::Huber>(argv[1]);
  } else {
    std::cout << "no weights file given: training a small model on 5000 simulated ttbar events\n";
    metnet::NetworkShape shape;
    shape.hidden_layers = 2;
    shape.width = 32;
    const metnet::FeatureSchema schema;
    model = metnet::MetNet<metnet::Huber>(schema, shape);
    metnet::TrainingOptions options;
    options.epochs = 5;
    model.fit(metnet::simulate(metnet::Process::ttbar, 5000, {}, /*seed=*/1), options);
  }

  // Gather the columns the model reads, in its order.
  std::vector<float> values;
  for (const std::string& column : model.event_columns()) {
    values.push_back(event.column(column)(0));
  }
  const metnet::EventMet met = model.predict_event(values);

  std::cout << "METNet: px " << met.px << " GeV, py " << met.py << " GeV, pT " << met.pt << " GeV, phi " << met.phi
            << '\n'
            << "Tight:  pT " << event.column("Tight_Final_ET")(0) << " GeV\n"
            << "truth:  pT " << event.column("True_ET")(0) << " GeV\n";
  return 0;
}

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const metnet::Error& error) {
    // A Gaussian NLL weights file needs MetNet<metnet::GaussianNll>, whose
    // prediction also carries sigma and METNetSig.
    std::cerr << "example_predict_one_event: " << error.what() << '\n';
    return 2;
  }
}
