// SPDX-License-Identifier: MIT
// Tests of self-checking weights files (model/verification.hpp): a file
// saved with test vectors verifies after loading, and a changed weight,
// column order or expected output is caught. The model is the imported
// PyTorch fixture processed_opset11_gemm.json (make_onnx_fixtures.py).
#include <cmath>
#include <filesystem>
#include <limits>
#include <string>
#include <utility>

#include <catch2/catch.hpp>

#include "metnet/io.hpp"
#include "metnet/metnet.hpp"

namespace {

const std::filesystem::path fixtures = std::filesystem::path(METNET_TEST_DATA_DIR) / "interop" / "fixtures";

// Four events in event_columns() order, spread over a few tens of GeV.
metnet::Matrix<float> test_inputs(metnet::Index columns) {
  metnet::Matrix<float> inputs(4, columns);
  for (metnet::Index r = 0; r < inputs.rows(); ++r) {
    for (metnet::Index c = 0; c < columns; ++c) {
      inputs(r, c) = static_cast<float>(30.0 * std::sin(1.3 * static_cast<double>(r * columns + c) + 0.2));
    }
  }
  return inputs;
}

metnet::ModelDocument saved_with_vectors(const std::filesystem::path& path) {
  const auto model = metnet::load_metnet<metnet::Huber>(fixtures / "processed_opset11_gemm.json");
  metnet::save_metnet(model, path, test_inputs(static_cast<metnet::Index>(model.event_columns().size())));
  return metnet::load_model_json(path);
}

struct TemporaryFile {
  std::filesystem::path path = std::filesystem::temp_directory_path() / "metnet_verification_test.json";
  ~TemporaryFile() { std::filesystem::remove(path); }
};

}  // namespace

TEST_CASE("saved test vectors verify after loading", "[interop][verification]") {
  TemporaryFile file;
  const metnet::ModelDocument document = saved_with_vectors(file.path);
  REQUIRE(document.test_vectors.inputs.rows() == 4);
  const metnet::VerificationReport report = metnet::verify(document);
  CHECK(report.has_hash);
  CHECK(report.hash_matches);
  CHECK(report.vectors == 4);
  CHECK(report.failed == 0);
  CHECK(report.worst == 0.0);  // same code, same machine: bit-identical replay
  CHECK(report.passed());
  CHECK(report.messages.empty());
}

TEST_CASE("file without vectors or hash passes verify", "[interop][verification]") {
  const metnet::ModelDocument document = metnet::load_model_json(fixtures / "processed_opset11_gemm.json");
  const metnet::VerificationReport report = metnet::verify(document);
  CHECK_FALSE(report.has_hash);
  CHECK(report.vectors == 0);
  CHECK(report.passed());
  CHECK(report.computed_hash.rfind("fnv1a64:", 0) == 0);
  CHECK(report.computed_hash.size() == 8 + 16);
}

TEST_CASE("changed weight fails hash and vectors", "[interop][verification]") {
  TemporaryFile file;
  metnet::ModelDocument document = saved_with_vectors(file.path);
  document.network.linear.back().bias(0) += 0.5f;
  const metnet::VerificationReport report = metnet::verify(document);
  CHECK(report.has_hash);
  CHECK_FALSE(report.hash_matches);
  CHECK(report.failed == 4);
  CHECK_FALSE(report.passed());
  CHECK(report.messages.front().find("weights hash") != std::string::npos);
}

TEST_CASE("swapped column names change the hash", "[interop][verification]") {
  metnet::ModelDocument document = metnet::load_model_json(fixtures / "processed_opset11_gemm.json");
  const std::string before = metnet::weights_hash(document);
  std::swap(document.schema.inputs[0], document.schema.inputs.back());
  CHECK(metnet::weights_hash(document) != before);
}

TEST_CASE("NaN expected output fails verification", "[interop][verification]") {
  TemporaryFile file;
  metnet::ModelDocument document = saved_with_vectors(file.path);
  document.test_vectors.outputs(1, 1) = std::numeric_limits<double>::quiet_NaN();
  const metnet::VerificationReport report = metnet::verify(document);
  CHECK(report.hash_matches);
  CHECK(report.failed == 1);
  CHECK(std::isnan(report.worst));
  CHECK_FALSE(report.passed());
}

TEST_CASE("NaN test input is reported not thrown", "[interop][verification]") {
  TemporaryFile file;
  metnet::ModelDocument document = saved_with_vectors(file.path);
  document.test_vectors.inputs(2, 0) = std::numeric_limits<float>::quiet_NaN();
  const metnet::VerificationReport report = metnet::verify(document);
  CHECK(report.failed == 1);
  REQUIRE(report.messages.size() == 1);
  CHECK(report.messages.front().find("test vector 2: prediction failed") != std::string::npos);
}

TEST_CASE("output beyond tolerance fails verification", "[interop][verification]") {
  TemporaryFile file;
  metnet::ModelDocument document = saved_with_vectors(file.path);
  const double expected = document.test_vectors.outputs(0, 0);
  // 3e-5 relative is beyond the default 1e-5 + 1e-5 |expected| for |expected| > 0.5 GeV.
  REQUIRE(std::abs(expected) > 0.5);
  document.test_vectors.outputs(0, 0) = expected * (1.0 + 3e-5);
  CHECK(metnet::verify(document).failed == 1);
  metnet::VerificationOptions loose;
  loose.relative = 1e-4;
  CHECK(metnet::verify(document, loose).failed == 0);
}

TEST_CASE("test vectors of the wrong width are rejected on load", "[interop][verification]") {
  TemporaryFile file;
  metnet::ModelDocument document = saved_with_vectors(file.path);
  document.test_vectors.inputs.conservativeResize(4, document.test_vectors.inputs.cols() - 1);
  CHECK_THROWS_AS(document.validate(), metnet::ShapeError);
}
