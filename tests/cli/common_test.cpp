// SPDX-License-Identifier: MIT
// Tests of the shared pieces of the metnet command-line tool
// (tools/metnet/common.hpp and the subcommand helpers).

#include <catch2/catch.hpp>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>

#include "../../tools/metnet/commands/simulate.hpp"
#include "../../tools/metnet/common.hpp"

namespace fs = std::filesystem;
using namespace metnet;
using namespace metnet::cli;

namespace {

fs::path scratch_file(const std::string& name) {
  const fs::path folder = fs::temp_directory_path() / "metnet_cli_test";
  fs::create_directories(folder);
  return folder / name;
}

EventTable small_table() {
  Matrix<float> values(2, 2);
  values << 1.5f, 2000.0f, -3.0f, 4000.0f;
  return EventTable({"N_Jets", "Tight_Final_SumET"}, values);
}

}  // namespace

TEST_CASE("exit code separates bad input from internal failure", "[cli]") {
  CHECK(exit_code_for(FormatError("x")) == ExitCode::bad_input);
  CHECK(exit_code_for(ShapeError("x")) == ExitCode::bad_input);
  CHECK(exit_code_for(ConfigError("x")) == ExitCode::bad_input);
  CHECK(exit_code_for(NumericError("x")) == ExitCode::bad_input);
  CHECK(exit_code_for(IoError("x")) == ExitCode::bad_input);
  CHECK(exit_code_for(CLI::ValidationError("x")) == ExitCode::bad_input);
  CHECK(exit_code_for(std::logic_error("x")) == ExitCode::internal_error);
  CHECK(exit_code_for(std::bad_alloc()) == ExitCode::internal_error);
}

TEST_CASE("event file format follows the extension", "[cli]") {
  CHECK(event_file_format("a/b.csv") == EventFileFormat::csv);
  CHECK(event_file_format("b.CSV") == EventFileFormat::csv);
  CHECK(event_file_format("b.npy") == EventFileFormat::npy);
  CHECK_THROWS_AS(event_file_format("b.root"), ConfigError);
  CHECK_THROWS_AS(event_file_format("b"), ConfigError);
}

TEST_CASE("energy unit parses GeV and MeV", "[cli]") {
  CHECK(parse_energy_unit("GeV") == EnergyUnit::gev);
  CHECK(parse_energy_unit("mev") == EnergyUnit::mev);
  CHECK_THROWS_AS(parse_energy_unit("TeV"), ConfigError);
}

TEST_CASE("events round-trip through csv and npy", "[cli]") {
  const EventTable table = small_table();
  for (const char* name : {"round_trip.csv", "round_trip.npy"}) {
    const fs::path path = scratch_file(name);
    write_events(path, table);
    const EventTable read = read_events(path, EnergyUnit::gev);
    CHECK(read.columns() == table.columns());
    CHECK(read.values() == table.values());
  }
}

TEST_CASE("MeV files are scaled to GeV on energy columns only", "[cli]") {
  const fs::path path = scratch_file("mev.csv");
  write_events(path, small_table());
  const EventTable read = read_events(path, EnergyUnit::mev);
  CHECK(read.column("N_Jets")(0) == 1.5f);
  CHECK(read.column("Tight_Final_SumET")(0) == Approx(2.0f));
}

TEST_CASE("several event files are concatenated by column name", "[cli]") {
  const fs::path first = scratch_file("first.csv");
  const fs::path second = scratch_file("second.npy");
  write_events(first, small_table());
  Matrix<float> values(1, 3);
  values << 9.0f, 7.0f, 5.0f;
  // The second file has the columns in another order and one extra column.
  write_events(second, EventTable({"Extra", "Tight_Final_SumET", "N_Jets"}, values));
  const EventTable both = read_events(std::vector<fs::path>{first, second}, EnergyUnit::gev);
  REQUIRE(both.rows() == 3);
  CHECK(both.columns() == small_table().columns());
  CHECK(both.column("N_Jets")(2) == 5.0f);
  CHECK(both.column("Tight_Final_SumET")(2) == 7.0f);
}

TEST_CASE("event file without events is rejected", "[cli]") {
  const fs::path path = scratch_file("header_only.csv");
  std::ofstream(path) << "N_Jets,True_EX\n";
  CHECK_THROWS_AS(read_events(path, EnergyUnit::gev), FormatError);
  const fs::path empty = scratch_file("empty.csv");
  std::ofstream(empty).flush();
  CHECK_THROWS_AS(read_events(empty, EnergyUnit::gev), FormatError);
}

TEST_CASE("missing npy file is an I/O error", "[cli]") {
  CHECK_THROWS_AS(read_events(scratch_file("does_not_exist.npy"), EnergyUnit::gev), IoError);
  CHECK_THROWS_AS(read_events(scratch_file("does_not_exist.csv"), EnergyUnit::gev), IoError);
}

TEST_CASE("duration formats seconds minutes and hours", "[cli]") {
  CHECK(format_duration(42.4) == "42s");
  CHECK(format_duration(187.0) == "3m07s");
  CHECK(format_duration(3900.0) == "1h05m");
  CHECK(format_duration(-1.0) == "?");
}

TEST_CASE("progress line shows fraction rate and ETA", "[cli]") {
  // 500 of 1000 events in 4 s: 125 events/s, 4 s left.
  const std::string line = format_progress("simulate", 500, 1000, 4.0, "events", "loss 0.31", 10);
  CHECK(line == "simulate [#####     ]  50% 500/1000 events, 125.0 events/s, ETA 4s, loss 0.31");
}

TEST_CASE("progress bar off a terminal prints plain lines", "[cli]") {
  std::ostringstream out;
  {
    ProgressBar bar("work", 100, "items", out, false, 3600.0);
    bar.update(10);
    bar.update(20);  // within the interval: not printed
    bar.finish("done");
  }
  const std::string text = out.str();
  CHECK(text.find('\r') == std::string::npos);
  CHECK(text.find("10/100") != std::string::npos);
  CHECK(text.find("20/100") == std::string::npos);
  CHECK(text.find("100/100 items") != std::string::npos);
  CHECK(text.find("done") != std::string::npos);
  CHECK(std::count(text.begin(), text.end(), '\n') == 2);
}

TEST_CASE("progress bar on a terminal redraws one line", "[cli]") {
  std::ostringstream out;
  ProgressBar bar("work", 4, "items", out, true);
  bar.update(1);
  bar.finish();
  const std::string text = out.str();
  CHECK(text.find('\r') != std::string::npos);
  CHECK(std::count(text.begin(), text.end(), '\n') == 1);
}

TEST_CASE("loss names map to loss kinds", "[cli]") {
  CHECK(parse_loss_name("huber") == LossKind::huber);
  CHECK(parse_loss_name("huber+sinkhorn") == LossKind::huber_sinkhorn);
  CHECK(parse_loss_name("gnll") == LossKind::gnll);
  CHECK(parse_loss_name("gaussian_nll") == LossKind::gnll);
  CHECK_THROWS_AS(parse_loss_name("mse"), ConfigError);
  for (const LossKind kind : {LossKind::huber, LossKind::huber_sinkhorn, LossKind::gnll}) {
    CHECK(parse_loss_name(loss_cli_name(kind)) == kind);
  }
}

TEST_CASE("loss dispatch picks the matching MetNet type", "[cli]") {
  const auto name_of = [](LossKind kind) {
    return dispatch_loss(kind, [](auto loss_type) {
      using L = typename decltype(loss_type)::type;
      return std::string(L::name());
    });
  };
  CHECK(name_of(LossKind::huber) == "huber");
  CHECK(name_of(LossKind::huber_sinkhorn) == "huber+sinkhorn");
  CHECK(name_of(LossKind::gnll) == "gaussian_nll");
}

TEST_CASE("loss of a weights document is detected", "[cli]") {
  ModelDocument document;
  document.loss.name = "huber+sinkhorn";
  CHECK(loss_kind_of(document) == LossKind::huber_sinkhorn);
  document.loss.name = "gaussian_nll";
  CHECK(loss_kind_of(document) == LossKind::gnll);
  document.loss.name = "sinkhorn";
  CHECK_THROWS_AS(loss_kind_of(document), ConfigError);
}

TEST_CASE("trained weights file loads with its own loss", "[cli]") {
  const EventTable events = simulate(Process::ttbar, 600, SimulationConfig{}, 7);
  NetworkShape shape;
  shape.hidden_layers = 1;
  shape.width = 8;
  const FeatureSchema schema;
  MetNet<GaussianNll> model(schema, shape);
  TrainingOptions options;
  options.epochs = 1;
  options.batch_size = 128;
  model.fit(events, options);
  const fs::path path = scratch_file("gnll.json");
  save_metnet(model, path);
  const bool probabilistic = with_loaded_model(path, [](const auto& loaded) {
    return std::remove_cvref_t<decltype(loaded)>::is_probabilistic;
  });
  CHECK(probabilistic);
}

TEST_CASE("command line quoting keeps arguments apart", "[cli]") {
  const char* argv[] = {"metnet", "train", "my file.csv", "-o", "w.json"};
  CHECK(join_command_line(5, argv) == "metnet train 'my file.csv' -o w.json");
}

TEST_CASE("training metadata names seed events and revision", "[cli]") {
  const auto metadata = training_metadata(42, 1000);
  CHECK(metadata.at("seed") == "42");
  CHECK(metadata.at("events") == "1000");
  CHECK_FALSE(metadata.at("git_revision").empty());
  CHECK(metadata.at("date").size() == 20);  // 2024-05-01T12:00:00Z
}

TEST_CASE("simulation with progress equals simulate", "[cli]") {
  SimulationConfig config;
  config.pileup = parse_mu_profile("uniform", std::nullopt, 10.0, 60.0);
  config.filter.min_true_met = 30.0;
  const EventTable reference = simulate(Process::ww, 9000, config, 11, 1);
  const EventTable chunked = simulate_with_progress(Process::ww, 9000, config, 11, 2);
  CHECK(chunked.columns() == reference.columns());
  CHECK(chunked.values() == reference.values());
}

TEST_CASE("mu profile options are checked", "[cli]") {
  CHECK(parse_mu_profile("fixed", 40.0, 10.0, 60.0).mean == 40.0);
  CHECK(parse_mu_profile("run2", std::nullopt, 10.0, 60.0).profile == MuProfile::run2_gaussian);
  CHECK_THROWS_AS(parse_mu_profile("fixed", std::nullopt, 10.0, 60.0), ConfigError);
  CHECK_THROWS_AS(parse_mu_profile("flat", std::nullopt, 10.0, 60.0), ConfigError);
}
