// SPDX-License-Identifier: MIT
// Tests of a header generated at build time by metnet::write_header
// (tests/cmake/interop_header.cmake): its predict() equals
// MetNet::predict_event of the JSON model bit for bit, reproduces the
// PyTorch outputs, and carries the embedded test vectors.
#include <algorithm>
#include <array>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "generated_processed_model.hpp"
#include "metnet/io.hpp"
#include "metnet/metnet.hpp"

namespace {

const std::filesystem::path fixtures = std::filesystem::path(METNET_TEST_DATA_DIR) / "interop" / "fixtures";

}  // namespace

TEST_CASE("generated header matches the JSON model", "[interop][header]") {
  const auto model = metnet::load_metnet<metnet::Huber>(fixtures / "processed_opset11_gemm.json");
  REQUIRE(model.event_columns().size() == generated::event_columns.size());
  for (std::size_t i = 0; i < generated::event_columns.size(); ++i) {
    CHECK(model.event_columns()[i] == generated::event_columns[i]);
  }
  REQUIRE(generated::test_vector_count == 8);
  const auto columns = static_cast<int>(generated::event_columns.size());
  for (int row = 0; row < generated::test_vector_count; ++row) {
    INFO("event " << row);
    const float* event = generated::test_vector_inputs.data() + row * columns;
    std::array<float, 2> met{};
    generated::predict(event, met.data());
    const auto expected = model.predict_event(std::vector<float>(event, event + columns));
    CHECK(met[0] == expected.px);
    CHECK(met[1] == expected.py);
    // The embedded outputs were computed by predict_event in the generator.
    CHECK(met[0] == static_cast<float>(generated::test_vector_outputs[2 * row]));
    CHECK(met[1] == static_cast<float>(generated::test_vector_outputs[2 * row + 1]));
  }
}

TEST_CASE("generated header reproduces PyTorch", "[interop][header]") {
  // Reference: torch 1.13 forward of the exported module (make_onnx_fixtures.py, processed_case).
  std::ifstream in(fixtures / "processed_opset11_gemm.expected.json");
  const nlohmann::json expected = nlohmann::json::parse(in);
  const auto names = expected.at("columns").get<std::vector<std::string>>();
  const auto events = expected.at("events").get<std::vector<std::vector<double>>>();
  const auto met = expected.at("met").get<std::vector<std::vector<double>>>();
  for (std::size_t row = 0; row < events.size(); ++row) {
    std::vector<float> values;
    for (const char* name : generated::event_columns) {
      const auto position = std::find(names.begin(), names.end(), name) - names.begin();
      values.push_back(static_cast<float>(events[row][static_cast<std::size_t>(position)]));
    }
    std::array<float, 2> found{};
    generated::predict(values.data(), found.data());
    CHECK(std::abs(found[0] - met[row][0]) <= 1e-5 + 1e-5 * std::abs(met[row][0]));
    CHECK(std::abs(found[1] - met[row][1]) <= 1e-5 + 1e-5 * std::abs(met[row][1]));
  }
}
