// SPDX-License-Identifier: MIT
// Tests of the ONNX importer's output: the metnet weights files that
// tools/onnx_to_metnet.py wrote from PyTorch exports load through the JSON
// reader and, through MetNet::predict_event, reproduce the PyTorch outputs
// on fixed events. The fixtures and their expected outputs come from
// tests/interop/make_onnx_fixtures.py (torch 1.13, python3-onnx 1.12).
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "metnet/inference/inference_mlp.hpp"
#include "metnet/io.hpp"
#include "metnet/metnet.hpp"

namespace {

const std::filesystem::path fixtures = std::filesystem::path(METNET_TEST_DATA_DIR) / "interop" / "fixtures";

// Combined tolerance of the comparison with PyTorch: |found - expected| <= absolute_tolerance + relative_tolerance |expected|.
constexpr double relative_tolerance = 1e-5;
constexpr double absolute_tolerance = 1e-5;

struct Expected {
  std::vector<std::string> columns;
  std::vector<std::vector<double>> events;
  std::vector<std::vector<double>> met;
};

Expected read_expected(const std::string& name) {
  std::ifstream in(fixtures / (name + ".expected.json"));
  REQUIRE(in);
  const nlohmann::json root = nlohmann::json::parse(in);
  return {root.at("columns").get<std::vector<std::string>>(), root.at("events").get<std::vector<std::vector<double>>>(),
          root.at("met").get<std::vector<std::vector<double>>>()};
}

// One event's values in the model's event_columns() order, picked by name.
std::vector<float> event_values(const std::vector<std::string>& wanted, const Expected& expected, std::size_t row) {
  std::vector<float> values;
  for (const std::string& name : wanted) {
    const auto it = std::find(expected.columns.begin(), expected.columns.end(), name);
    REQUIRE(it != expected.columns.end());
    values.push_back(static_cast<float>(expected.events[row][static_cast<std::size_t>(it - expected.columns.begin())]));
  }
  return values;
}

void check_against_pytorch(const std::string& name) {
  INFO("fixture " << name);
  const auto model = metnet::load_metnet<metnet::Huber>(fixtures / (name + ".json"));
  const Expected expected = read_expected(name);
  REQUIRE(expected.events.size() == expected.met.size());
  for (std::size_t row = 0; row < expected.events.size(); ++row) {
    INFO("event " << row);
    const auto prediction = model.predict_event(event_values(model.event_columns(), expected, row));
    CHECK(std::abs(prediction.px - expected.met[row][0]) <= absolute_tolerance + relative_tolerance * std::abs(expected.met[row][0]));
    CHECK(std::abs(prediction.py - expected.met[row][1]) <= absolute_tolerance + relative_tolerance * std::abs(expected.met[row][1]));
  }
}

}  // namespace

TEST_CASE("Gemm export with SiLU and LayerNorm matches PyTorch", "[interop][onnx]") {
  // Reference: torch 1.13 forward of the exported module (make_onnx_fixtures.py, plain_case).
  check_against_pytorch("plain_silu_ln_opset17_gemm");
}

TEST_CASE("ReLU network without LayerNorm matches PyTorch", "[interop][onnx]") {
  // Reference: torch 1.13 forward (make_onnx_fixtures.py, plain_case).
  check_against_pytorch("plain_relu_opset13_gemm");
}

TEST_CASE("MatMul export with decomposed LayerNorm matches PyTorch", "[interop][onnx]") {
  // Reference: torch 1.13 forward of a tanh network with LayerNorm(eps=1e-3), opset 11.
  check_against_pytorch("plain_tanh_ln_opset11_matmul");
}

TEST_CASE("mask rotation and standardisation match PyTorch", "[interop][onnx]") {
  // Reference: torch 1.13 forward of WithProcessing (make_onnx_fixtures.py, processed_case), GeV.
  check_against_pytorch("processed_opset11_gemm");
}

TEST_CASE("MeV graph converts to GeV statistics", "[interop][onnx]") {
  // Reference: torch 1.13 forward on MeV inputs divided by 1000 (processed_case with unit 1000).
  check_against_pytorch("processed_opset17_matmul_mev");
  const auto document = metnet::load_model_json(fixtures / "processed_opset17_matmul_mev.json");
  // The torch module standardised Loose_Final_SumET with mean 450 GeV, stored as 450000 MeV.
  const auto column = static_cast<metnet::Index>(
      std::find(document.schema.inputs.begin(), document.schema.inputs.end(), "Loose_Final_SumET") -
      document.schema.inputs.begin());
  CHECK(document.input_scaling.mean()(column) == Approx(450.0).epsilon(1e-7));
  CHECK(document.schema.rotate);
}

TEST_CASE("imported LayerNorm keeps the graph epsilon", "[interop][onnx][layernorm]") {
  // The tanh fixture used nn.LayerNorm(eps=1e-3); ONNX stores the float32 value 0.0010000000474974513.
  const auto document = metnet::load_model_json(fixtures / "plain_tanh_ln_opset11_matmul.json");
  CHECK(document.network.config.layer_norm_eps == static_cast<double>(1e-3f));
  const auto opset17 = metnet::load_model_json(fixtures / "plain_silu_ln_opset17_gemm.json");
  CHECK(opset17.network.config.layer_norm_eps == static_cast<double>(1e-5f));
}

TEST_CASE("LayerNorm with epsilon 1e-3 gives 0.73996", "[interop][layernorm]") {
  // Reference: torch.nn.functional.layer_norm of [0.09484422, 0.16441762] in float64 with eps 1e-3 gives
  // -+0.7399559134059271. A network of identity layers exposes the LayerNorm; float32 arithmetic, so abs 1e-6.
  metnet::MlpWeights<float> weights;
  weights.config = {2, 2, 1, 2, metnet::Activation::identity, true, static_cast<double>(1e-3f)};
  weights.linear.push_back({metnet::Matrix<float>::Identity(2, 2), metnet::RowVector<float>::Zero(2)});
  weights.linear.push_back({metnet::Matrix<float>::Identity(2, 2), metnet::RowVector<float>::Zero(2)});
  weights.norm.push_back({metnet::RowVector<float>::Ones(2), metnet::RowVector<float>::Zero(2)});
  const metnet::InferenceMlp<float> network(weights);
  auto workspace = network.make_workspace();
  const float input[2] = {0.09484422f, 0.16441762f};
  float output[2] = {};
  network.predict(input, output, workspace);
  CHECK(output[0] == Approx(-0.7399559134059271).margin(1e-6));
  CHECK(output[1] == Approx(0.7399559134059274).margin(1e-6));
}

TEST_CASE("inference-mode Dropout is an identity", "[interop][onnx][dropout]") {
  // Linear(W=[[1,-1],[0.5,2]], b=[0,1]), Tanh, Dropout(0.5), Linear(W=[[2,3],[0,0]], b=[-1,0]) in eval mode;
  // reference: torch 1.13 forward (make_onnx_fixtures.py, dropout_case).
  check_against_pytorch("dropout_eval");
  const auto model = metnet::load_metnet<metnet::Huber>(fixtures / "dropout_eval.json");
  const std::vector<float> event = {1.0f, 2.0f};
  // tanh(-1) * 2 + tanh(5.5) * 3 - 1 = 0.47684...; rescaling by 1 / (1 - p) would double the hidden terms.
  const double expected = 2.0 * std::tanh(-1.0) + 3.0 * std::tanh(5.5) - 1.0;
  CHECK(model.predict_event(event).px == Approx(expected).margin(1e-5));
}

TEST_CASE("metnet to ONNX and back keeps the outputs", "[interop][onnx][round-trip]") {
  // round_trip.json is processed_opset11_gemm.json exported by tools/metnet_to_onnx.py and imported again.
  const auto original = metnet::load_metnet<metnet::Huber>(fixtures / "processed_opset11_gemm.json");
  const auto again = metnet::load_metnet<metnet::Huber>(fixtures / "round_trip.json");
  REQUIRE(original.event_columns() == again.event_columns());
  const Expected expected = read_expected("round_trip");
  for (std::size_t row = 0; row < expected.events.size(); ++row) {
    const auto values = event_values(original.event_columns(), expected, row);
    const auto first = original.predict_event(values);
    const auto second = again.predict_event(values);
    CHECK(first.px == second.px);
    CHECK(first.py == second.py);
    // Reference: the NumPy float64 metnet model (make_onnx_fixtures.py, round_trip_case).
    CHECK(std::abs(second.px - expected.met[row][0]) <= absolute_tolerance + relative_tolerance * std::abs(expected.met[row][0]));
    CHECK(std::abs(second.py - expected.met[row][1]) <= absolute_tolerance + relative_tolerance * std::abs(expected.met[row][1]));
  }
}
