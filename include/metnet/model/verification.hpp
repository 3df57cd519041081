// SPDX-License-Identifier: MIT
#pragma once
// Self-checking weights files: a hash of the weights and test vectors that
// the producer computed, replayed on load.
//
//   metnet::ModelDocument doc = metnet::load_model_json("metnet.json");
//   metnet::VerificationReport report = metnet::verify(doc);
//   if (!report.passed()) { /* report.messages names each failure */ }
//
// The hash is FNV-1a 64 (offset basis 0xcbf29ce484222325, prime
// 0x100000001b3) over these bytes, in this order:
//   1. every input name, then every target name, then the reference prefix,
//      each followed by one zero byte, then one byte 1 or 0 for rotate;
//   2. for each linear layer (hidden layers, then the head): the weight,
//      output row by output row, then the bias, as float32;
//   3. for each layer norm: gamma, then beta, as float32;
//   4. the input means, input stds, target means and target stds, then
//      layer_norm_eps, as float64.
// Numbers are their IEEE-754 bits in little-endian byte order on every host.
// The hash detects accidental changes (a truncated copy, a re-ordered
// column), not tampering: FNV-1a is not a cryptographic hash.
//
// Test vectors are replayed through MetNet::predict_event of the loss that
// the document names. An output passes when |found - expected| <= absolute +
// relative * |expected|; a NaN found or expected value always fails, and
// so does an input that predict_event rejects.

#include <bit>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <span>
#include <string>
#include <vector>

#include "metnet/core/error.hpp"
#include "metnet/core/types.hpp"
#include "metnet/loss/gaussian_nll.hpp"
#include "metnet/loss/huber.hpp"
#include "metnet/loss/sinkhorn.hpp"
#include "metnet/loss/sum.hpp"
#include "metnet/model/metnet.hpp"
#include "metnet/model/model_document.hpp"

namespace metnet {

namespace detail {

class Fnv1a64 {
 public:
  void bytes(const unsigned char* data, std::size_t size) noexcept {
    for (std::size_t i = 0; i < size; ++i) {
      state_ = (state_ ^ data[i]) * 0x100000001b3ULL;
    }
  }

  void text(const std::string& value) noexcept {
    bytes(reinterpret_cast<const unsigned char*>(value.data()), value.size());
    const unsigned char zero = 0;
    bytes(&zero, 1);
  }

  template <class Unsigned>
  void little_endian(Unsigned bits) noexcept {
    for (std::size_t i = 0; i < sizeof(Unsigned); ++i) {
      const auto byte = static_cast<unsigned char>((bits >> (8 * i)) & 0xFFU);
      bytes(&byte, 1);
    }
  }

  void value(float x) noexcept { little_endian(std::bit_cast<std::uint32_t>(x)); }
  void value(double x) noexcept { little_endian(std::bit_cast<std::uint64_t>(x)); }

  template <class Derived>
  void values(const Eigen::MatrixBase<Derived>& matrix) noexcept {
    for (Index r = 0; r < matrix.rows(); ++r) {
      for (Index c = 0; c < matrix.cols(); ++c) {
        value(matrix(r, c));
      }
    }
  }

  std::uint64_t state() const noexcept { return state_; }

 private:
  std::uint64_t state_ = 0xcbf29ce484222325ULL;
};

}  // namespace detail

// The hash of a document's weights, statistics and column names, as
// "fnv1a64:" followed by 16 lower-case hex digits.
inline std::string weights_hash(const ModelDocument& document) {
  detail::Fnv1a64 hash;
  for (const std::string& name : document.schema.inputs) {
    hash.text(name);
  }
  for (const std::string& name : document.schema.targets) {
    hash.text(name);
  }
  hash.text(document.schema.reference);
  hash.little_endian(static_cast<std::uint8_t>(document.schema.rotate ? 1 : 0));
  for (const auto& layer : document.network.linear) {
    hash.values(layer.weight);
    hash.values(layer.bias);
  }
  for (const auto& norm : document.network.norm) {
    hash.values(norm.gamma);
    hash.values(norm.beta);
  }
  hash.values(document.input_scaling.mean());
  hash.values(document.input_scaling.std());
  hash.values(document.target_scaling.mean());
  hash.values(document.target_scaling.std());
  hash.value(document.network.config.layer_norm_eps);
  char text[17];
  std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(hash.state()));
  return "fnv1a64:" + std::string(text);
}

struct VerificationOptions {
  double relative = 1e-5;
  double absolute = 1e-5;  // GeV
};

struct VerificationReport {
  bool has_hash = false;
  bool hash_matches = false;
  std::string stored_hash;
  std::string computed_hash;
  Index vectors = 0;      // test vectors replayed
  Index failed = 0;       // test vectors with at least one failing output
  double worst = 0.0;     // largest |found - expected| / (absolute + relative |expected|)
  std::vector<std::string> messages;  // one line per failure

  // True when a stored hash matches and every test vector passes; a file
  // without hash and without vectors passes, so check has_hash and vectors.
  bool passed() const noexcept { return (!has_hash || hash_matches) && failed == 0; }
};

namespace detail {

template <Loss L>
void replay_test_vectors(const ModelDocument& document, const VerificationOptions& options,
                         VerificationReport& report) {
  const MetNet<L> model = MetNet<L>::from_document(document);
  auto workspace = model.make_workspace();
  const TestVectors& vectors = document.test_vectors;
  for (Index row = 0; row < vectors.inputs.rows(); ++row) {
    ++report.vectors;
    const RowVector<float> inputs = vectors.inputs.row(row);
    double found[2] = {std::nan(""), std::nan("")};
    try {
      const auto prediction = model.predict_event(std::span<const float>(inputs.data(), static_cast<std::size_t>(inputs.size())), workspace);
      found[0] = prediction.px;
      found[1] = prediction.py;
    } catch (const Error& error) {
      ++report.failed;
      report.messages.push_back("test vector " + std::to_string(row) + ": prediction failed: " + error.what());
      continue;
    }
    bool ok = true;
    for (int k = 0; k < 2; ++k) {
      const double expected = vectors.outputs(row, k);
      const double deviation = std::abs(found[k] - expected) / (options.absolute + options.relative * std::abs(expected));
      // NaN compares false, so a NaN deviation is caught by !(deviation <= 1).
      if (!(deviation <= 1.0)) {
        ok = false;
        report.messages.push_back("test vector " + std::to_string(row) + ": " + (k == 0 ? "px" : "py") + " is " +
                                  std::to_string(found[k]) + " GeV, expected " + std::to_string(expected) +
                                  " GeV (tolerance " + std::to_string(options.absolute) + " + " +
                                  std::to_string(options.relative) + " x |expected|)");
      }
      if (std::isnan(deviation)) {
        report.worst = deviation;
      } else if (!std::isnan(report.worst)) {
        report.worst = std::max(report.worst, deviation);
      }
    }
    report.failed += ok ? 0 : 1;
  }
}

}  // namespace detail

// Recomputes the hash and replays the test vectors of `document`. Throws
// ConfigError if the document names a loss that this version does not know,
// and what MetNet::from_document throws on an invalid document.
inline VerificationReport verify(const ModelDocument& document, const VerificationOptions& options = {}) {
  VerificationReport report;
  report.computed_hash = weights_hash(document);
  report.has_hash = !document.weights_hash.empty();
  report.stored_hash = document.weights_hash;
  report.hash_matches = report.has_hash && report.stored_hash == report.computed_hash;
  if (report.has_hash && !report.hash_matches) {
    report.messages.push_back("weights hash: stored " + report.stored_hash + ", computed " + report.computed_hash +
                              "; the weights, statistics or column names changed after the file was written");
  }
  if (document.test_vectors.empty()) {
    return report;
  }
  const std::string& loss = document.loss.name;
  if (loss == Huber::name()) {
    detail::replay_test_vectors<Huber>(document, options, report);
  } else if (loss == HuberSinkhorn::name()) {
    detail::replay_test_vectors<HuberSinkhorn>(document, options, report);
  } else if (loss == Sinkhorn::name()) {
    detail::replay_test_vectors<Sinkhorn>(document, options, report);
  } else if (loss == GaussianNll::name()) {
    detail::replay_test_vectors<GaussianNll>(document, options, report);
  } else {
    throw ConfigError("verify: unknown loss '" + loss + "'; expected huber, huber+sinkhorn, sinkhorn or gaussian_nll");
  }
  return report;
}

// Adds the hash and test vectors to `document`: each row of `inputs` is one
// event in model.event_columns() order (GeV), and its outputs are the
// model's predict_event. Throws what predict_event throws.
template <Loss L>
void add_test_vectors(ModelDocument& document, const MetNet<L>& model, const Matrix<float>& inputs) {
  TestVectors vectors;
  vectors.inputs = inputs;
  vectors.outputs.resize(inputs.rows(), 2);
  auto workspace = model.make_workspace();
  for (Index row = 0; row < inputs.rows(); ++row) {
    const RowVector<float> values = inputs.row(row);
    const auto prediction = model.predict_event(std::span<const float>(values.data(), static_cast<std::size_t>(values.size())), workspace);
    vectors.outputs(row, 0) = prediction.px;
    vectors.outputs(row, 1) = prediction.py;
  }
  document.test_vectors = std::move(vectors);
  document.weights_hash = weights_hash(document);
}

}  // namespace metnet
