// SPDX-License-Identifier: MIT
// A catalogue of bad inputs to the readers and the model: each case asserts
// the error type, a key part of the message, and where a file is written
// that no target or temporary file is left behind. docs/reliability.md
// lists these cases together with those of tests/data, tests/io and
// tests/model, which are not repeated here.

#include <filesystem>
#include <fstream>
#include <limits>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "../data/message_has.hpp"
#include "../data/temp_dir.hpp"
#include "metnet/io.hpp"
#include "metnet/metnet.hpp"
#include "small_model.hpp"

namespace {

using metnet::Index;
using metnet::test::MessageHas;

const metnet::MetNet<metnet::Huber>& model() {
  static const auto trained = metnet::test::train_small<metnet::Huber>(metnet::test::small_ttbar());
  return trained;
}

const std::string& weights_text() {
  static const std::string text = metnet::model_json_text(model().document());
  return text;
}

// A .npy file of version 1.0 with the given header dict and data bytes.
std::string npy_file(std::string dict, const std::string& data = "") {
  while ((10 + dict.size() + 1) % 64 != 0) {
    dict += ' ';
  }
  dict += '\n';
  std::string bytes("\x93NUMPY\x01\x00", 8);
  bytes += static_cast<char>(dict.size() & 0xFF);
  bytes += static_cast<char>(dict.size() >> 8);
  return bytes + dict + data;
}

std::string fuzz_crash(const std::string& name) {
  return metnet::test::read_bytes(std::filesystem::path(METNET_TEST_DATA_DIR) / "hardening" / "fuzz_crashes" / name);
}

}  // namespace

TEST_CASE("weights JSON truncated anywhere is rejected", "[hardening][bad-input][json]") {
  const std::string& text = weights_text();
  for (const std::size_t length : {std::size_t{0}, std::size_t{1}, text.size() / 3, text.size() / 2, text.size() - 2}) {
    INFO("first " << length << " bytes");
    CHECK_THROWS_MATCHES(metnet::parse_model_json(text.substr(0, length), "cut.json"), metnet::FormatError,
                         MessageHas("cut.json: invalid JSON at byte"));
  }
}

TEST_CASE("weights JSON number beyond double is rejected", "[hardening][bad-input][json]") {
  // Found by model_json_fuzz: nlohmann_json raised out_of_range, which escaped parse_model_json.
  CHECK_THROWS_MATCHES(metnet::parse_model_json(fuzz_crash("model_json_number_overflow.json"), "big.json"),
                       metnet::FormatError, MessageHas("big.json: invalid JSON number"));
  std::string text = weights_text();
  text.replace(text.find("\"layer_norm_eps\":") + 17, 1, "1e999,");
  CHECK_THROWS_MATCHES(metnet::parse_model_json(text, "big.json"), metnet::FormatError,
                       MessageHas("invalid JSON number") && MessageHas("number overflow"));
}

TEST_CASE("weights JSON with invalid UTF-8 is rejected", "[hardening][bad-input][json]") {
  std::string text = weights_text();
  text.replace(text.find("Tight_Final_ET"), 5, "\xff\xfeght");
  CHECK_THROWS_MATCHES(metnet::parse_model_json(text, "latin1.json"), metnet::FormatError,
                       MessageHas("latin1.json: invalid JSON at byte"));
}

TEST_CASE("weights JSON with a huge layer count is rejected", "[hardening][bad-input][json]") {
  metnet::Json root = metnet::Json::parse(weights_text());
  root["network"]["hidden_layers"] = std::numeric_limits<std::int64_t>::max();
  CHECK_THROWS_MATCHES(metnet::model_from_json(root, "deep.json"), metnet::FormatError, MessageHas("deep.json:/layers"));
  root["network"]["hidden_layers"] = -1;
  CHECK_THROWS_MATCHES(metnet::model_from_json(root, "deep.json"), metnet::FormatError,
                       MessageHas("/network/hidden_layers") && MessageHas("non-negative integer"));
}

TEST_CASE("weights JSON with duplicated input names is rejected", "[hardening][bad-input][json]") {
  metnet::Json root = metnet::Json::parse(weights_text());
  root["features"]["inputs"][1] = root["features"]["inputs"][0];
  CHECK_THROWS_MATCHES(metnet::model_from_json(root, "twice.json"), metnet::FormatError,
                       MessageHas("twice.json") && MessageHas("Tight_Final_ET"));
}

TEST_CASE("weights JSON with a negative std is rejected", "[hardening][bad-input][json]") {
  metnet::Json root = metnet::Json::parse(weights_text());
  root["standardisation"]["inputs"]["std"][2] = -1.0;
  CHECK_THROWS_MATCHES(metnet::model_from_json(root, "std.json"), metnet::FormatError,
                       MessageHas("std.json:/standardisation/inputs/std/2") && MessageHas("standard deviation >= 0"));
}

TEST_CASE("model for another feature list rejects the events", "[hardening][bad-input][model]") {
  const metnet::FeatureSchema schema = metnet::FeatureSchema::with_inputs(
      {"Tight_Final_ET", "Tight_Final_SumET", "Loose_Final_EX", "Loose_Final_EY", "Renamed_Mu"});
  const metnet::EventTable& source = metnet::test::small_ttbar();
  metnet::EventTable events = source;
  std::vector<std::string> names = events.columns();
  names[static_cast<std::size_t>(events.column_index("ActMu"))] = "Renamed_Mu";
  events = metnet::EventTable(names, events.values());
  metnet::MetNet<metnet::Huber> other(schema, metnet::NetworkShape{1, 8});
  other.fit(events, metnet::test::small_training(1));

  CHECK_THROWS_MATCHES(other.predict(source), metnet::FormatError, MessageHas("missing column 'Renamed_Mu'"));
  const std::vector<float> default_row(model().event_columns().size(), 1.0F);
  CHECK_THROWS_MATCHES(other.predict_event(default_row), metnet::ShapeError,
                       MessageHas("expected " + std::to_string(other.event_columns().size()) + " values"));
}

TEST_CASE("NaN and Inf event values are rejected by predict_event", "[hardening][bad-input][model]") {
  std::vector<float> row(model().event_columns().size(), 1.0F);
  row[3] = std::numeric_limits<float>::quiet_NaN();
  CHECK_THROWS_MATCHES(model().predict_event(row), metnet::NumericError,
                       MessageHas("column '" + model().event_columns()[3] + "' is nan"));
  row[3] = -std::numeric_limits<float>::infinity();
  CHECK_THROWS_MATCHES(model().predict_event(row), metnet::NumericError, MessageHas("is -inf"));
}

TEST_CASE("negative event weights are rejected", "[hardening][bad-input][model]") {
  metnet::EventTable events = metnet::test::small_ttbar();
  events.column("Weight")(17) = -0.5F;
  metnet::TrainingOptions options = metnet::test::small_training(1);
  options.event_weight_column = "Weight";
  metnet::MetNet<metnet::Huber> fresh(metnet::FeatureSchema{}, metnet::NetworkShape{1, 8});
  CHECK_THROWS_MATCHES(fresh.fit(events, options), metnet::NumericError,
                       MessageHas("event weight column 'Weight', row 17") && MessageHas("expected a finite value >= 0"));
}

TEST_CASE("all-zero event weights are rejected", "[hardening][bad-input][model]") {
  metnet::EventTable events = metnet::test::small_ttbar();
  events.column("Weight").setZero();
  metnet::TrainingOptions options = metnet::test::small_training(1);
  options.event_weight_column = "Weight";
  metnet::MetNet<metnet::Huber> fresh(metnet::FeatureSchema{}, metnet::NetworkShape{1, 8});
  CHECK_THROWS_MATCHES(fresh.fit(events, options), metnet::ConfigError, MessageHas("event weights sum to 0"));
}

TEST_CASE("MeV events read as GeV are rejected by predict", "[hardening][bad-input][model]") {
  metnet::EventTable events = metnet::simulate(metnet::Process::ttbar, 200, metnet::SimulationConfig{}, 71);
  for (Index col = 0; col < events.cols(); ++col) {
    if (metnet::is_energy_column(events.columns()[static_cast<std::size_t>(col)])) {
      events.values().col(col) *= 1000.0F;
    }
  }
  CHECK_THROWS_MATCHES(model().predict(events), metnet::ConfigError, MessageHas("MeV"));
}

TEST_CASE("CSV header of 10^5 columns reads in linear time", "[hardening][bad-input][csv]") {
  // The duplicate-name check used to compare every pair of names: 160 s for this header.
  std::string header;
  std::string row;
  for (int i = 0; i < 100000; ++i) {
    header += (i > 0 ? ",c" : "c") + std::to_string(i);
    row += i > 0 ? ",1" : "1";
  }
  const metnet::EventTable table = metnet::read_csv_text(header + "\n" + row + "\n", "wide.csv");
  CHECK(table.cols() == 100000);
  CHECK(table.rows() == 1);
  CHECK_THROWS_MATCHES(metnet::read_csv_text(header + ",c99999\n" + row + ",1\n", "wide.csv"), metnet::FormatError,
                       MessageHas("duplicated column 'c99999' (columns 100000 and 100001)"));
}

TEST_CASE("CSV with only a header gives zero events", "[hardening][bad-input][csv]") {
  const metnet::EventTable table = metnet::read_csv_text("A,B\n\n\n", "header.csv");
  CHECK(table.rows() == 0);
  CHECK(table.cols() == 2);
  metnet::MetNet<metnet::Huber> fresh(metnet::FeatureSchema{}, metnet::NetworkShape{1, 8});
  CHECK_THROWS_AS(fresh.fit(table), metnet::FormatError);
}

TEST_CASE("npy header claiming 2^60 elements fails without allocating", "[hardening][bad-input][npy]") {
  const metnet::test::TempDir dir;
  metnet::NpyReadOptions options;
  options.column_names = {"a"};
  const auto huge = dir.write("huge.npy", npy_file("{'descr': '<f4', 'fortran_order': False, 'shape': (1152921504606846976,), }"));
  CHECK_THROWS_MATCHES(metnet::read_npy(huge, options), metnet::FormatError,
                       MessageHas("truncated .npy data: expected 4611686018427387904 bytes"));
  // 2^62 rows of 4 float32 need 2^66 bytes, which wrapped to 0 in uint64 and reached a bad_alloc.
  options.column_names = {"a", "b", "c", "d"};
  const auto wrapped = dir.write("wrap.npy", npy_file("{'descr': '<f4', 'fortran_order': False, 'shape': (4611686018427387904, 4), }"));
  CHECK_THROWS_MATCHES(metnet::read_npy(wrapped, options), metnet::FormatError,
                       MessageHas("needs more than 2^64 bytes, found 0"));
}

TEST_CASE("npy array without columns is rejected", "[hardening][bad-input][npy]") {
  // A (2^63 - 1, 0) array has no bytes, and reading it looped over 2^50 empty blocks.
  const metnet::test::TempDir dir;
  const auto empty = dir.write("empty.npy", npy_file("{'descr': '<f4', 'fortran_order': False, 'shape': (9223372036854775807, 0), }"));
  CHECK_THROWS_MATCHES(metnet::read_npy(empty), metnet::FormatError, MessageHas("the .npy array has no columns"));
  const auto padding = dir.write("padding.npy", npy_file("{'descr': [('', '|V4')], 'fortran_order': False, 'shape': (3,), }",
                                                         std::string(12, '\0')));
  CHECK_THROWS_MATCHES(metnet::read_npy(padding), metnet::FormatError, MessageHas("has no columns"));
}

TEST_CASE("npy padding size that is not a number is rejected", "[hardening][bad-input][npy]") {
  // Found by npy_fuzz: std::stoul threw std::invalid_argument out of read_npy.
  const metnet::test::TempDir dir;
  CHECK_THROWS_MATCHES(metnet::read_npy(dir.write("crash.npy", fuzz_crash("npy_padding_not_a_number.npy"))),
                       metnet::FormatError, MessageHas("invalid padding type '|V"));
  for (const char* descr : {"|Vx", "|V0", "|V99999999999999999999999", "|V4x"}) {
    INFO(descr);
    const auto file = dir.write("pad.npy", npy_file(std::string("{'descr': [('a_EX', '<f4'), ('', '") + descr +
                                                    "')], 'fortran_order': False, 'shape': (0,), }"));
    CHECK_THROWS_MATCHES(metnet::read_npy(file), metnet::FormatError, MessageHas("invalid padding type"));
  }
}

TEST_CASE("npy with a negative or text shape is rejected", "[hardening][bad-input][npy]") {
  const metnet::test::TempDir dir;
  const auto negative = dir.write("neg.npy", npy_file("{'descr': '<f4', 'fortran_order': False, 'shape': (-2, 3), }"));
  CHECK_THROWS_MATCHES(metnet::read_npy(negative), metnet::FormatError, MessageHas("non-negative integers"));
  const auto text = dir.write("text.npy", npy_file("{'descr': '<f4', 'fortran_order': False, 'shape': ('2', 3), }"));
  CHECK_THROWS_MATCHES(metnet::read_npy(text), metnet::FormatError, MessageHas("non-negative integers"));
  const auto overflow = dir.write("big.npy", npy_file("{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,), }"));
  CHECK_THROWS_MATCHES(metnet::read_npy(overflow), metnet::FormatError, MessageHas("invalid integer"));
}

TEST_CASE("failed writes leave no file behind", "[hardening][bad-input][atomic]") {
  const metnet::test::TempDir dir;
  metnet::EventTable table = metnet::simulate(metnet::Process::ttbar, 20, metnet::SimulationConfig{}, 72);
  table.values()(19, 4) = std::numeric_limits<float>::infinity();
  CHECK_THROWS_MATCHES(metnet::write_csv(dir / "events.csv", table), metnet::NumericError, MessageHas("row 19"));
  CHECK_THROWS_MATCHES(metnet::write_npy(dir / "events.npy", table), metnet::NumericError, MessageHas("row 19"));
  const metnet::MetNet<metnet::Huber> untrained;
  CHECK_THROWS_MATCHES(metnet::save_metnet(untrained, dir / "model.json"), metnet::ConfigError,
                       MessageHas("not trained"));
  metnet::ModelDocument broken = model().document();
  broken.network.linear[1].bias(0) = std::numeric_limits<float>::quiet_NaN();
  CHECK_THROWS_MATCHES(metnet::save_model_json(dir / "broken.json", broken), metnet::NumericError,
                       MessageHas("/layers/1/bias/0"));
  CHECK(dir.entries().empty());
}

TEST_CASE("checkpoint of another file type is rejected", "[hardening][bad-input][checkpoint]") {
  const metnet::test::TempDir dir;
  metnet::save_metnet(model(), dir / "model.json");
  const auto weights = model().document().network;
  CHECK_THROWS_MATCHES(metnet::read_checkpoint(dir / "model.json", weights, metnet::AdamState<float>{}),
                       metnet::FormatError, MessageHas("not a metnet training checkpoint"));
  CHECK_THROWS_MATCHES(metnet::read_checkpoint(dir / "absent.ckpt", weights, metnet::AdamState<float>{}),
                       metnet::IoError, MessageHas("cannot open checkpoint"));
}

TEST_CASE("weights file path that is a directory is rejected", "[hardening][bad-input][json]") {
  const metnet::test::TempDir dir;
  CHECK_THROWS_AS(metnet::load_metnet<metnet::Huber>(dir.path()), metnet::Error);
  CHECK_THROWS_MATCHES(metnet::load_metnet<metnet::Huber>(dir / "absent.json"), metnet::IoError,
                       MessageHas("cannot open weights file"));
}
