// SPDX-License-Identifier: MIT
// Measures how far the bf16 inference path (Bf16InferenceMlp) moves the
// outputs from the float path (InferenceMlp<float>):
//  1. on the benchmark networks Net S and Net L (random weights and inputs,
//     the same seeds as inference_bench), in the network's output units;
//  2. on a trained Huber model over simulated ttbar events (Run-2 pile-up
//     profile), in GeV after the model's inverse standardisation and
//     rotation, the way MetNet::predict finishes its outputs.
// Which bf16 kernel runs depends on the flags of this build (see
// "vdpbf16ps kernel" in the output), so build it like the benchmarks.
// Usage: bf16_tolerance [WEIGHTS.json [EVENTS [SEED]]]
//        defaults: weights/metnet_huber.json of the source tree, 100000, 5

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <string>
#include <vector>

#include "bench_networks.hpp"
#include "metnet/inference.hpp"
#include "metnet/io.hpp"
#include "metnet/metnet.hpp"

namespace {

using metnet::Index;
using metnet::Matrix;

// Largest and root-mean-square absolute deviation of a set of values.
struct Deviation {
  double max = 0.0;
  double sum_squares = 0.0;
  Index count = 0;

  void add(double difference) {
    max = std::max(max, std::abs(difference));
    sum_squares += difference * difference;
    ++count;
  }
  double rms() const { return count > 0 ? std::sqrt(sum_squares / static_cast<double>(count)) : 0.0; }
};

void measure_benchmark_network(const metnet::bench::NetShape& shape, Index events) {
  // Seeds 2024 (weights) and 7 (inputs) are those of inference_bench.
  const metnet::MlpWeights<float> weights = metnet::bench::random_weights(shape, 2024);
  const metnet::InferenceMlp<float> reference(weights);
  const metnet::Bf16InferenceMlp network(weights);
  auto reference_workspace = reference.make_workspace();
  auto workspace = network.make_workspace();
  const Matrix<float> inputs = metnet::bench::random_inputs(events, shape.inputs, 7);

  Deviation deviation;
  double sum_squares = 0.0;
  float expected[2];
  float found[2];
  for (Index event = 0; event < events; ++event) {
    reference.predict(inputs.row(event).data(), expected, reference_workspace);
    network.predict(inputs.row(event).data(), found, workspace);
    for (int o = 0; o < 2; ++o) {
      deviation.add(double(found[o]) - expected[o]);
      sum_squares += double(expected[o]) * expected[o];
    }
  }
  std::printf("Net %s, %lld random events: max |bf16 - float| %.4f, RMS %.4f (RMS of the outputs %.3f)\n",
              shape.name.c_str(), static_cast<long long>(events), deviation.max, deviation.rms(),
              std::sqrt(sum_squares / static_cast<double>(2 * events)));
}

// The detector-frame MET of one event from the network's standardised
// outputs, as MetNet<Huber>::predict computes it.
metnet::Vector2<double> met_in_gev(const metnet::ModelDocument& document, Index target_x, Index target_y,
                                   const float* raw, double angle, double reference_par, double reference_perp) {
  const metnet::Standardiser& scaling = document.target_scaling;
  const double par = raw[target_x] * scaling.scale(target_x) + scaling.mean()(target_x) + reference_par;
  const double perp = raw[target_y] * scaling.scale(target_y) + scaling.mean()(target_y) + reference_perp;
  return metnet::rotate_from_reference(par, perp, angle);
}

int measure_trained_model(const std::string& path, Index events, std::uint64_t seed) {
  const auto model = metnet::load_metnet<metnet::Huber>(path);
  const metnet::ModelDocument document = model.document();
  const metnet::FeatureSchema& schema = document.schema;
  const metnet::EventTable table =
      metnet::simulate(metnet::Process::ttbar, static_cast<std::size_t>(events), {}, seed);

  // The model's own prediction, to check that the steps below repeat it.
  const auto prediction = model.predict(table);

  const metnet::Vector<double> angles = metnet::detail::event_angles(table, schema);
  Matrix<float> inputs = metnet::detail::gather_columns(table, schema.inputs);
  if (schema.rotate) {
    metnet::rotate_pairs(inputs, schema.inputs, angles, metnet::RotationDirection::to_reference);
  }
  document.input_scaling.transform(inputs);
  const Matrix<double> reference = schema.residual ? metnet::detail::reference_in_frame(table, schema, angles)
                                                   : Matrix<double>::Zero(table.rows(), 2);
  const metnet::VectorPair targets = metnet::find_vector_pairs(schema.targets).front();

  const metnet::InferenceMlp<float> float_network(document.network);
  const metnet::Bf16InferenceMlp bf16_network(document.network);
  auto float_workspace = float_network.make_workspace();
  auto bf16_workspace = bf16_network.make_workspace();
  std::vector<float> float_raw(static_cast<std::size_t>(float_network.outputs()));
  std::vector<float> bf16_raw(static_cast<std::size_t>(bf16_network.outputs()));

  Deviation px;
  Deviation py;
  Deviation pt;
  Deviation repeat;
  double sum_pt = 0.0;
  for (Index event = 0; event < table.rows(); ++event) {
    float_network.predict(inputs.row(event).data(), float_raw.data(), float_workspace);
    bf16_network.predict(inputs.row(event).data(), bf16_raw.data(), bf16_workspace);
    const auto expected = met_in_gev(document, targets.x, targets.y, float_raw.data(), angles(event),
                                     reference(event, 0), reference(event, 1));
    const auto found = met_in_gev(document, targets.x, targets.y, bf16_raw.data(), angles(event),
                                  reference(event, 0), reference(event, 1));
    px.add(found.x - expected.x);
    py.add(found.y - expected.y);
    pt.add(std::hypot(found.x, found.y) - std::hypot(expected.x, expected.y));
    repeat.add(expected.x - prediction.px(event));
    sum_pt += std::hypot(expected.x, expected.y);
  }

  std::printf("%s, %lld simulated ttbar events (seed %llu), mean predicted MET %.1f GeV:\n", path.c_str(),
              static_cast<long long>(events), static_cast<unsigned long long>(seed),
              sum_pt / static_cast<double>(events));
  std::printf("  bf16 - float: px max %.4f GeV RMS %.4f GeV, py max %.4f GeV RMS %.4f GeV, "
              "pT max %.4f GeV RMS %.4f GeV\n",
              px.max, px.rms(), py.max, py.rms(), pt.max, pt.rms());
  std::printf("  check: max |float path here - MetNet::predict| px %.2g GeV\n", repeat.max);
  // MetNet::predict runs the same float network in batches and rounds px to
  // float, so anything above float rounding of the MET means the steps above
  // no longer repeat the model's prediction.
  if (repeat.max > 1e-3) {
    std::fprintf(stderr, "bf16_tolerance: the float path here differs from MetNet::predict by %g GeV; "
                         "update met_in_gev to the model's current post-processing\n", repeat.max);
    return 1;
  }
  return 0;
}

// Parses a positive count or seed argument; throws ConfigError naming it otherwise.
std::uint64_t parse_positive(const char* name, const std::string& text) {
  std::size_t used = 0;
  unsigned long long value = 0;
  try {
    value = std::stoull(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used != text.size() || text.empty() || text[0] == '-' || value == 0) {
    throw metnet::ConfigError(std::string(name) + " must be a positive integer, found '" + text + "'");
  }
  return value;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const std::string path = argc > 1 ? argv[1] : std::string(METNET_SOURCE_DIR) + "/weights/metnet_huber.json";
    const auto events = static_cast<Index>(argc > 2 ? parse_positive("EVENTS", argv[2]) : 100000);
    const std::uint64_t seed = argc > 3 ? parse_positive("SEED", argv[3]) : 5;
    std::printf("compiler and flags: %s\n", METNET_BENCH_COMPILER_FLAGS);
    std::printf("vdpbf16ps kernel: %s\n", metnet::detail::has_bf16_dot ? "yes" : "no (bf16 weights widened to float)");
    measure_benchmark_network(metnet::bench::net_s, 2000);
    measure_benchmark_network(metnet::bench::net_l, 2000);
    return measure_trained_model(path, events, seed);
  } catch (const std::exception& error) {
    std::fprintf(stderr, "bf16_tolerance: %s\n", error.what());
    return 2;
  }
}
