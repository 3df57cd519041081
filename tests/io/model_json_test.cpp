// SPDX-License-Identifier: MIT
#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>

#include <catch2/catch.hpp>

#include "../data/message_has.hpp"
#include "../data/temp_dir.hpp"
#include "metnet/core/random.hpp"
#include "metnet/io/model_json.hpp"

using metnet::test::MessageHas;

namespace {

// A small but complete document: 3 inputs, 2 targets, 2 hidden layers of 4.
metnet::ModelDocument small_document() {
  metnet::ModelDocument doc;
  doc.schema.inputs = {"Calo_Final_EX", "Calo_Final_EY", "ActMu"};
  metnet::RowVector<double> mean(3);
  metnet::RowVector<double> std(3);
  mean << 1.5, -0.25, 38.255;
  std << 49.925, 17.936, 0.0;
  doc.input_scaling = metnet::Standardiser(doc.schema.inputs, mean, std);
  metnet::RowVector<double> target_mean(2);
  metnet::RowVector<double> target_std(2);
  target_mean << 60.709, -0.002;
  target_std << 50.461, 23.298;
  doc.target_scaling = metnet::Standardiser(doc.schema.targets, target_mean, target_std);

  metnet::MlpConfig& c = doc.network.config;
  c.inputs = 3;
  c.outputs = 2;
  c.hidden_layers = 2;
  c.width = 4;
  metnet::Rng rng(7);
  for (int i = 0; i < 3; ++i) {
    const metnet::Index in = i == 0 ? 3 : 4;
    const metnet::Index out = i == 2 ? 2 : 4;
    metnet::LinearWeights<float> layer;
    layer.weight.resize(out, in);
    layer.bias.resize(out);
    for (metnet::Index k = 0; k < layer.weight.size(); ++k) {
      layer.weight.data()[k] = static_cast<float>(rng.normal());
    }
    for (metnet::Index k = 0; k < out; ++k) {
      layer.bias(k) = static_cast<float>(rng.normal());
    }
    doc.network.linear.push_back(layer);
  }
  for (int i = 0; i < 2; ++i) {
    metnet::LayerNormWeights<float> norm;
    norm.gamma = metnet::RowVector<float>::Constant(4, 1.0f + 0.5f * static_cast<float>(i));
    norm.beta = metnet::RowVector<float>::Constant(4, -0.125f);
    doc.network.norm.push_back(norm);
  }
  doc.loss = {"huber", {{"delta", 1.5}}};
  doc.metadata = {{"command", "metnet train --seed 7"}, {"seed", "7"}, {"git_revision", "abc123"}};
  return doc;
}

// Loss parameter name "p<i>", built with += because GCC 12 gives a false
// -Wrestrict warning on "p" + std::to_string(i).
std::string parameter_name(int i) {
  std::string name = "p";
  name += std::to_string(i);
  return name;
}

template <class T>
bool same_bits(T a, T b) {
  return std::memcmp(&a, &b, sizeof(T)) == 0;
}

bool same_bits(const metnet::MlpWeights<float>& a, const metnet::MlpWeights<float>& b) {
  if (!(a.config == b.config) || a.linear.size() != b.linear.size() || a.norm.size() != b.norm.size()) {
    return false;
  }
  const auto equal = [](const auto& x, const auto& y) {
    return x.size() == y.size() && std::memcmp(x.data(), y.data(), sizeof(float) * static_cast<std::size_t>(x.size())) == 0;
  };
  for (std::size_t i = 0; i < a.linear.size(); ++i) {
    if (!equal(a.linear[i].weight, b.linear[i].weight) || !equal(a.linear[i].bias, b.linear[i].bias)) {
      return false;
    }
  }
  for (std::size_t i = 0; i < a.norm.size(); ++i) {
    if (!equal(a.norm[i].gamma, b.norm[i].gamma) || !equal(a.norm[i].beta, b.norm[i].beta)) {
      return false;
    }
  }
  return true;
}

// Converts the small document to JSON, applies `edit` and loads the result
// under the name weights.json.
metnet::ModelDocument load_edited(const std::function<void(metnet::Json&)>& edit) {
  metnet::Json json = metnet::model_to_json(small_document());
  edit(json);
  return metnet::model_from_json(json, "weights.json");
}

}  // namespace

TEST_CASE("model document round trips through a file", "[io][json]") {
  const metnet::test::TempDir dir;
  const metnet::ModelDocument doc = small_document();
  metnet::save_model_json(dir / "weights.json", doc);
  CHECK(dir.entries() == std::vector<std::string>{"weights.json"});
  const metnet::ModelDocument back = metnet::load_model_json(dir / "weights.json");
  CHECK(back.schema == doc.schema);
  CHECK(back.input_scaling == doc.input_scaling);
  CHECK(back.target_scaling == doc.target_scaling);
  CHECK(same_bits(back.network, doc.network));
  CHECK(back.loss == doc.loss);
  CHECK(back.use_sample_weights == doc.use_sample_weights);
  CHECK(back.sample_weights == doc.sample_weights);
  CHECK(back.metadata == doc.metadata);
  const std::string text = metnet::test::read_bytes(dir / "weights.json");
  CHECK(text.rfind("{\n  \"format\": \"metnet-weights\",\n  \"version\": 1,", 0) == 0);
}

// Case JSON-02, tolerance bitwise: the values of that case, which a
// round-trip program (json_rt.cpp) found bitwise equal with nlohmann_json 3.11.2.
TEST_CASE("doubles and floats round trip bit-exactly", "[io][json][JSON-02]") {
  const double doubles[] = {0.1, 1.0 / 3.0, -0.0, 5e-324, 2.2250738585072014e-308, 1.7976931348623157e+308,
                            1e+23, 4.0, 123456789.12345679, -1e-300};
  const float floats[] = {0.1f, 34.76f, 0.42f, 1e-45f, 3.4028235e38f};
  metnet::ModelDocument doc = small_document();
  doc.loss.parameters.clear();
  for (int i = 0; i < 10; ++i) {
    doc.loss.parameters[parameter_name(i)] = doubles[i];
  }
  for (int i = 0; i < 5; ++i) {
    doc.network.linear[1].weight(i / 4, i % 4) = floats[i];
    doc.network.linear[1].bias(i % 4) = -floats[i];
  }
  doc.network.linear[0].weight(0, 0) = -0.0f;
  const std::string text = metnet::model_json_text(doc);
  const metnet::ModelDocument back = metnet::parse_model_json(text);
  for (int i = 0; i < 10; ++i) {
    INFO("double " << doubles[i]);
    CHECK(same_bits(back.loss.parameters.at(parameter_name(i)), doubles[i]));
  }
  CHECK(std::signbit(back.loss.parameters.at("p2")));
  CHECK(same_bits(back.network, doc.network));
  CHECK(std::signbit(back.network.linear[0].weight(0, 0)));
  // 4.0 stays a floating-point number in the text (not the integer 4).
  CHECK(text.find("\"p7\":4.0") != std::string::npos);
  // The float 0.1f is written as its exact double widening.
  CHECK(text.find("0.10000000149011612") != std::string::npos);
}

// Case JSON-01: nlohmann_json writes NaN and Inf as null, so saving must
// reject them, naming the place, and leave no file behind.
TEST_CASE("saving non-finite weights fails naming the pointer", "[io][json][JSON-01][errors]") {
  const metnet::test::TempDir dir;
  const auto target = dir.write("weights.json", "previous model");
  metnet::ModelDocument doc = small_document();
  doc.network.linear[1].weight(2, 3) = std::numeric_limits<float>::quiet_NaN();
  CHECK_THROWS_MATCHES(metnet::save_model_json(target, doc), metnet::NumericError,
                       MessageHas("/layers/1/weight/2/3") && MessageHas("nan"));
  doc = small_document();
  doc.network.norm[0].beta(1) = -std::numeric_limits<float>::infinity();
  CHECK_THROWS_MATCHES(metnet::save_model_json(target, doc), metnet::NumericError,
                       MessageHas("/layer_norms/0/beta/1") && MessageHas("-inf"));
  doc = small_document();
  doc.loss.parameters["delta"] = std::numeric_limits<double>::infinity();
  CHECK_THROWS_MATCHES(metnet::save_model_json(target, doc), metnet::NumericError,
                       MessageHas("/loss/parameters/delta"));
  CHECK(metnet::test::read_bytes(target) == "previous model");
  CHECK(dir.entries() == std::vector<std::string>{"weights.json"});
}

// Case JSON-01, file_a and file_b: null and the NaN literal must not load.
TEST_CASE("loading null or NaN fails with a clear error", "[io][json][JSON-01][errors]") {
  CHECK_THROWS_MATCHES(load_edited([](metnet::Json& j) { j["layers"][2]["bias"][1] = nullptr; }), metnet::FormatError,
                       MessageHas("weights.json:/layers/2/bias/1") && MessageHas("found null"));
  std::string text = metnet::model_json_text(small_document());
  const auto at = text.find("\"delta\":1.5");
  REQUIRE(at != std::string::npos);
  text.replace(at, 11, "\"delta\":NaN");
  CHECK_THROWS_MATCHES(metnet::parse_model_json(text, "nan.json"), metnet::FormatError,
                       MessageHas("nan.json: invalid JSON") && MessageHas("NaN"));
}

TEST_CASE("wrong shapes name pointer and sizes", "[io][json][errors]") {
  CHECK_THROWS_MATCHES(load_edited([](metnet::Json& j) {
                         for (auto& row : j["layers"][1]["weight"]) {
                           row.push_back(0.5);
                         }
                       }),
                       metnet::FormatError,
                       MessageHas("weights.json:/layers/1/weight: expected 4x4 (layer 0 has 4 outputs") &&
                           MessageHas("found 4x5"));
  CHECK_THROWS_MATCHES(load_edited([](metnet::Json& j) { j["layers"][0]["weight"][2].erase(1); }), metnet::FormatError,
                       MessageHas("/layers/0/weight/2: expected 3 values") && MessageHas("found 2"));
  CHECK_THROWS_MATCHES(load_edited([](metnet::Json& j) { j["layers"][2]["bias"].push_back(1.0); }), metnet::FormatError,
                       MessageHas("/layers/2/bias: expected 2 values") && MessageHas("found 3"));
  CHECK_THROWS_MATCHES(load_edited([](metnet::Json& j) { j["layers"].erase(1); }), metnet::FormatError,
                       MessageHas("/layers: expected 3 layers") && MessageHas("found 2"));
  CHECK_THROWS_MATCHES(load_edited([](metnet::Json& j) { j["layer_norms"][1]["gamma"].erase(0); }),
                       metnet::FormatError, MessageHas("/layer_norms/1/gamma: expected 4 values"));
  CHECK_THROWS_MATCHES(load_edited([](metnet::Json& j) { j["standardisation"]["inputs"]["std"].erase(0); }),
                       metnet::FormatError,
                       MessageHas("/standardisation/inputs/std: expected 3 values (one per input feature)"));
  CHECK_THROWS_MATCHES(load_edited([](metnet::Json& j) { j["network"]["inputs"] = 4; }), metnet::FormatError,
                       MessageHas("/layers/0/weight: expected 4x4"));
  CHECK_THROWS_MATCHES(load_edited([](metnet::Json& j) { j["features"]["inputs"].push_back("N_Jets"); }),
                       metnet::FormatError, MessageHas("/standardisation/inputs/mean: expected 4 values"));
}

TEST_CASE("bad keys types and versions are rejected", "[io][json][errors]") {
  CHECK_THROWS_MATCHES(load_edited([](metnet::Json& j) { j["network"]["dropout"] = 0.1; }), metnet::FormatError,
                       MessageHas("weights.json:/network/dropout: unknown key"));
  CHECK_THROWS_MATCHES(load_edited([](metnet::Json& j) { j.erase("loss"); }), metnet::FormatError,
                       MessageHas("/loss: missing key"));
  CHECK_THROWS_MATCHES(load_edited([](metnet::Json& j) { j["version"] = 2; }), metnet::FormatError,
                       MessageHas("/version: expected 1, found 2"));
  CHECK_THROWS_MATCHES(load_edited([](metnet::Json& j) { j["format"] = "keras"; }), metnet::FormatError,
                       MessageHas("/format: expected \"metnet-weights\""));
  CHECK_THROWS_MATCHES(load_edited([](metnet::Json& j) { j["layers"][0]["bias"][0] = "1.0"; }), metnet::FormatError,
                       MessageHas("/layers/0/bias/0: expected a number, found a string"));
  CHECK_THROWS_MATCHES(load_edited([](metnet::Json& j) { j["network"]["width"] = -4; }), metnet::FormatError,
                       MessageHas("/network/width: expected a non-negative integer"));
  CHECK_THROWS_MATCHES(load_edited([](metnet::Json& j) { j["network"]["activation"] = "gelu"; }), metnet::FormatError,
                       MessageHas("/network/activation") && MessageHas("'gelu'"));
  CHECK_THROWS_MATCHES(load_edited([](metnet::Json& j) { j["layers"][1]["weight"][0][0] = 1e39; }), metnet::FormatError,
                       MessageHas("/layers/1/weight/0/0: expected a float32 value"));
  CHECK_THROWS_MATCHES(load_edited([](metnet::Json& j) { j["metadata"]["seed"] = 7; }), metnet::FormatError,
                       MessageHas("/metadata/seed: expected a string, found an integer"));
  CHECK_THROWS_MATCHES(load_edited([](metnet::Json& j) { j["features"]["inputs"][1] = "Calo_Final_EZ"; }),
                       metnet::FormatError, MessageHas("/features") && MessageHas("Calo_Final_EY"));
}

TEST_CASE("malformed weights files are rejected", "[io][json][errors]") {
  const metnet::test::TempDir dir;
  const std::string good = metnet::model_json_text(small_document());
  CHECK_THROWS_MATCHES(metnet::load_model_json(dir.write("empty.json", "")), metnet::FormatError,
                       MessageHas("empty.json: invalid JSON"));
  CHECK_THROWS_MATCHES(metnet::load_model_json(dir.write("cut.json", good.substr(0, good.size() / 2))),
                       metnet::FormatError, MessageHas("cut.json: invalid JSON"));
  CHECK_THROWS_MATCHES(metnet::load_model_json(dir.write("list.json", "[1, 2]")), metnet::FormatError,
                       MessageHas("list.json:/: expected an object, found an array"));
  std::string latin1 = good;
  latin1.replace(latin1.find("abc123"), 6, "abc\xe9");
  CHECK_THROWS_MATCHES(metnet::load_model_json(dir.write("latin1.json", latin1)), metnet::FormatError,
                       MessageHas("latin1.json: invalid JSON"));
  CHECK_THROWS_MATCHES(metnet::load_model_json(dir / "absent.json"), metnet::IoError, MessageHas("absent.json"));
}

TEST_CASE("inconsistent documents are not saved", "[io][json][errors]") {
  const metnet::test::TempDir dir;
  metnet::ModelDocument doc = small_document();
  doc.network.linear[1].weight.resize(4, 5);
  CHECK_THROWS_AS(metnet::save_model_json(dir / "weights.json", doc), metnet::ShapeError);
  doc = small_document();
  doc.schema.inputs[2] = "NVx_2Tracks";
  CHECK_THROWS_MATCHES(metnet::save_model_json(dir / "weights.json", doc), metnet::ConfigError,
                       MessageHas("input standardisation"));
  CHECK(dir.entries().empty());
}
