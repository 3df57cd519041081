// SPDX-License-Identifier: MIT
// Writes the seed files of the fuzz corpora that come from the simulation
// and from a small trained model:
//   <dir>/model_json_fuzz/huber_tiny.json, gaussian_nll_tiny.json
//   <dir>/csv_fuzz/ttbar_8.csv, zmumu_8_mev.csv
//   <dir>/npy_fuzz/ttbar_8_records.npy, ttbar_8_matrix.npy
// Usage: make_seed_corpus <corpus dir>. The files committed under
// tests/fuzz/corpus/ were made with this program; the existing .npy
// fixtures of tests/data/fixtures are copied there as well.
// The model has six inputs and one hidden layer of width 4, so that its
// JSON stays near 2 kB: short inputs let libFuzzer run more mutations.

#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include "metnet/io.hpp"
#include "metnet/metnet.hpp"

namespace {

// The first `rows` events with `columns`, or with every column when it is empty.
metnet::EventTable head(const metnet::EventTable& events, metnet::Index rows, const std::vector<std::string>& columns) {
  const std::vector<std::string> names = columns.empty() ? events.columns() : columns;
  metnet::Matrix<float> values(rows, static_cast<metnet::Index>(names.size()));
  for (std::size_t k = 0; k < names.size(); ++k) {
    values.col(static_cast<metnet::Index>(k)) = events.column(names[k]).head(rows);
  }
  return metnet::EventTable(names, std::move(values));
}

template <class L>
void write_tiny_model(const metnet::EventTable& events, const std::filesystem::path& path) {
  const metnet::FeatureSchema schema = metnet::FeatureSchema::with_inputs(
      {"Tight_Final_ET", "Tight_Final_SumET", "Loose_Final_EX", "Loose_Final_EY", "ActMu", "NVx_2Tracks"});
  metnet::MetNet<L> model(schema, metnet::NetworkShape{1, 4});
  metnet::TrainingOptions options;
  options.epochs = 2;
  options.batch_size = 64;
  options.seed = 3;
  model.fit(events, options);
  model.metadata()["origin"] = "tests/fuzz/make_seed_corpus.cpp";
  metnet::save_metnet(model, path);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: make_seed_corpus <corpus dir>\n";
    return 2;
  }
  const std::filesystem::path dir = argv[1];
  for (const char* target : {"model_json_fuzz", "csv_fuzz", "npy_fuzz"}) {
    std::filesystem::create_directories(dir / target);
  }
  const metnet::EventTable ttbar = metnet::simulate(metnet::Process::ttbar, 600, metnet::SimulationConfig{}, 21);
  const metnet::EventTable zmumu = metnet::simulate(metnet::Process::zmumu, 8, metnet::SimulationConfig{}, 22);

  write_tiny_model<metnet::Huber>(ttbar, dir / "model_json_fuzz" / "huber_tiny.json");
  write_tiny_model<metnet::GaussianNll>(ttbar, dir / "model_json_fuzz" / "gaussian_nll_tiny.json");

  const std::vector<std::string> few = {"Tight_Final_EX", "Tight_Final_EY", "Tight_Final_SumET", "ActMu",
                                        "NVx_2Tracks", "True_EX", "True_EY"};
  metnet::write_csv(dir / "csv_fuzz" / "ttbar_8.csv", head(ttbar, 8, few));
  // Values in MeV, as ATLAS ntuples store them.
  metnet::EventTable zmumu_mev = head(zmumu, 8, few);
  for (std::size_t k = 0; k < few.size(); ++k) {
    if (metnet::is_energy_column(few[k])) {
      zmumu_mev.values().col(static_cast<metnet::Index>(k)) *= 1000.0F;
    }
  }
  metnet::write_csv(dir / "csv_fuzz" / "zmumu_8_mev.csv", zmumu_mev);

  metnet::write_npy(dir / "npy_fuzz" / "ttbar_8_records.npy", head(ttbar, 8, few), metnet::NpyLayout::structured);
  metnet::write_npy(dir / "npy_fuzz" / "ttbar_8_matrix.npy", head(ttbar, 8, few), metnet::NpyLayout::matrix);
  return EXIT_SUCCESS;
}
