// SPDX-License-Identifier: MIT
// Inference speed of metnet::InferenceMlp, its bf16 variant and FixedMlp on
// Net S and Net L, beside the plain Eigen baseline (bench_networks.hpp) on
// the same weights and inputs. Run with
//   --benchmark_enable_random_interleaving=true --benchmark_repetitions=5
// so that metnet and the baseline share the machine's load; compare the
// ratios. The largest output differences between the implementations are
// printed in the context block before the timings.

#include <algorithm>
#include <cmath>
#include <memory>
#include <string>

#include <benchmark/benchmark.h>

#include "bench_networks.hpp"
#include "metnet/inference.hpp"

namespace {

using metnet::Index;
using metnet::Matrix;
using metnet::bench::EigenBaselineMlp;
using metnet::bench::NetShape;

constexpr Index single_event_pool = 256;  // distinct events cycled through by the single-event loops

using FixedNetS = metnet::FixedMlp<77, 128, 10, 2>;
using FixedNetL = metnet::FixedMlp<76, 512, 5, 2>;

struct Fixture {
  NetShape shape;
  metnet::MlpWeights<float> weights;
  metnet::InferenceMlp<float> network;
  metnet::Bf16InferenceMlp bf16_network;
  EigenBaselineMlp baseline;
  Matrix<float> events;

  explicit Fixture(const NetShape& net)
      : shape(net), weights(metnet::bench::random_weights(net, 2024)), network(weights), bf16_network(weights.cast<float>()),
        baseline(weights), events(metnet::bench::random_inputs(single_event_pool, net.inputs, 7)) {}
};

template <class Predict>
void run_single_event(benchmark::State& state, const Fixture& fixture, Predict&& predict) {
  float output[2];
  Index event = 0;
  for (auto _ : state) {
    predict(fixture.events.row(event).data(), output);
    benchmark::DoNotOptimize(output);
    benchmark::ClobberMemory();
    event = (event + 1) % single_event_pool;
  }
  state.SetItemsProcessed(state.iterations());
}

void register_single_event(const Fixture& fixture, const FixedNetS* fixed_s, const FixedNetL* fixed_l) {
  const std::string suffix = "/" + fixture.shape.name;
  benchmark::RegisterBenchmark(("BM_Inference_SingleEvent" + suffix).c_str(), [&fixture](benchmark::State& state) {
    auto workspace = fixture.network.make_workspace();
    run_single_event(state, fixture, [&](const float* in, float* out) { fixture.network.predict(in, out, workspace); });
  });
  benchmark::RegisterBenchmark(("BM_EigenBaseline_SingleEvent" + suffix).c_str(), [&fixture](benchmark::State& state) {
    Eigen::VectorXf input(fixture.shape.inputs);
    run_single_event(state, fixture, [&](const float* in, float* out) {
      input = Eigen::Map<const Eigen::VectorXf>(in, fixture.shape.inputs);
      const Eigen::VectorXf result = fixture.baseline.predict(input);
      out[0] = result[0];
      out[1] = result[1];
    });
  });
  benchmark::RegisterBenchmark(("BM_Inference_SingleEventBf16" + suffix).c_str(), [&fixture](benchmark::State& state) {
    auto workspace = fixture.bf16_network.make_workspace();
    run_single_event(state, fixture,
                     [&](const float* in, float* out) { fixture.bf16_network.predict(in, out, workspace); });
  });
  if (fixed_s != nullptr) {
    benchmark::RegisterBenchmark(("BM_FixedMlp_SingleEvent" + suffix).c_str(), [&fixture, fixed_s](benchmark::State& state) {
      run_single_event(state, fixture, [&](const float* in, float* out) { fixed_s->predict(in, out); });
    });
  }
  if (fixed_l != nullptr) {
    benchmark::RegisterBenchmark(("BM_FixedMlp_SingleEvent" + suffix).c_str(), [&fixture, fixed_l](benchmark::State& state) {
      run_single_event(state, fixture, [&](const float* in, float* out) { fixed_l->predict(in, out); });
    });
  }
}

void register_batch(const Fixture& fixture, Index rows) {
  const std::string suffix = "/" + fixture.shape.name + "/" + std::to_string(rows);
  benchmark::RegisterBenchmark(("BM_Inference_Batch" + suffix).c_str(), [&fixture, rows](benchmark::State& state) {
    const Matrix<float> inputs = metnet::bench::random_inputs(rows, fixture.shape.inputs, 11);
    Matrix<float> outputs(rows, 2);
    auto workspace = fixture.network.make_workspace();
    for (auto _ : state) {
      fixture.network.predict(inputs, outputs, workspace);
      benchmark::DoNotOptimize(outputs.data());
      benchmark::ClobberMemory();
    }
    state.SetItemsProcessed(state.iterations() * rows);
  });
  // InferenceMlp::predict_parallel on 1 and 2 std::threads (started per call),
  // timed in wall-clock time so that the two runs compare. The CPU column is
  // the CPU time of the whole process, all threads together.
  for (const int threads : {1, 2}) {
    const std::string name = "BM_Inference_BatchThreads" + suffix + "/threads:" + std::to_string(threads);
    benchmark::RegisterBenchmark(name.c_str(), [&fixture, rows, threads](benchmark::State& state) {
      const Matrix<float> inputs = metnet::bench::random_inputs(rows, fixture.shape.inputs, 11);
      Matrix<float> outputs(rows, 2);
      for (auto _ : state) {
        fixture.network.predict_parallel(inputs, outputs, threads);
        benchmark::DoNotOptimize(outputs.data());
        benchmark::ClobberMemory();
      }
      state.SetItemsProcessed(state.iterations() * rows);
    })->UseRealTime()->MeasureProcessCPUTime()->Unit(benchmark::kMillisecond);
  }
  benchmark::RegisterBenchmark(("BM_EigenBaseline_Batch" + suffix).c_str(), [&fixture, rows](benchmark::State& state) {
    const Eigen::MatrixXf inputs = metnet::bench::random_inputs(rows, fixture.shape.inputs, 11);
    for (auto _ : state) {
      Eigen::MatrixXf outputs = fixture.baseline.predict(inputs);
      benchmark::DoNotOptimize(outputs.data());
      benchmark::ClobberMemory();
    }
    state.SetItemsProcessed(state.iterations() * rows);
  });
}

// Bytes of the packed weights that one single event reads, as
// InferenceMlp stores them. Float: each layer stores its inputs x outputs
// weights with the outputs padded to whole SIMD packets or, with few
// outputs (detail::uses_dot_layout), its outputs x inputs weights with the
// inputs padded. bf16: 2 bytes per weight, in the float layout, or in the
// padded pair layout of the vdpbf16ps kernel when it is compiled in.
Index packed_weight_bytes(const metnet::MlpWeights<float>& weights, bool bf16) {
  using metnet::detail::round_up;
  constexpr Index lanes = metnet::detail::packet_size<float>;
  Index bytes = 0;
  for (const auto& linear : weights.linear) {
    const Index inputs = linear.weight.cols();
    const Index outputs = linear.weight.rows();
    Index values = 0;
    if (bf16 && metnet::detail::has_bf16_dot) {
      values = round_up(inputs, 2) * round_up(outputs, lanes);
    } else if (metnet::detail::uses_dot_layout<float>(outputs)) {
      values = outputs * round_up(inputs, lanes);
    } else {
      values = inputs * round_up(outputs, lanes);
    }
    bytes += values * (bf16 ? 2 : 4);
  }
  return bytes;
}

// Reads as many bytes as one single event reads weights (packed_weight_bytes,
// rounded up to whole 8-packet steps) once per iteration, with eight
// independent packet sums and nothing else. This is the time the caches
// need to deliver one event's weights, a lower bound of the single event.
// Reading faster was tried on AMD Zen 4 (Net S, 0.63 MB from L2) with 16
// sums, 256-bit loads, integer ORs, two streams per page and software
// prefetch 2 to 4 KB ahead. None beat these eight sums by more than the
// noise.
void register_weight_stream(const Fixture& fixture) {
  using Packet = metnet::detail::Packet<float>;
  constexpr Index lanes = metnet::detail::packet_size<float>;
  for (const bool bf16 : {false, true}) {
    const Index floats = metnet::detail::round_up(
        packed_weight_bytes(fixture.weights, bf16) / static_cast<Index>(sizeof(float)), 8 * lanes);
    const std::string name = std::string("BM_WeightStream") + (bf16 ? "Bf16/" : "/") + fixture.shape.name;
    benchmark::RegisterBenchmark(name.c_str(), [floats](benchmark::State& state) {
      std::vector<float, Eigen::aligned_allocator<float>> buffer(static_cast<std::size_t>(floats), 0.5f);
      const float* data = buffer.data();
      for (auto _ : state) {
        Packet sums[8];
        for (Packet& sum : sums) {
          sum = Eigen::internal::pzero(sum);
        }
        for (Index i = 0; i < floats; i += 8 * lanes) {
          for (int q = 0; q < 8; ++q) {
            sums[q] = Eigen::internal::padd(sums[q], Eigen::internal::pload<Packet>(data + i + q * lanes));
          }
        }
        for (int q = 1; q < 8; ++q) {
          sums[0] = Eigen::internal::padd(sums[0], sums[q]);
        }
        benchmark::DoNotOptimize(sums[0]);
        benchmark::ClobberMemory();
      }
      state.SetBytesProcessed(state.iterations() * floats * static_cast<Index>(sizeof(float)));
    });
  }
}

// Largest |difference| of metnet's outputs from the baseline's over the event pool.
template <class Predict>
double max_difference(const Fixture& fixture, Predict&& predict) {
  double largest = 0.0;
  for (Index event = 0; event < single_event_pool; ++event) {
    float output[2];
    predict(fixture.events.row(event).data(), output);
    const Eigen::VectorXf input = fixture.events.row(event).transpose();
    const Eigen::VectorXf expected = fixture.baseline.predict(input);
    largest = std::max({largest, std::abs(double(output[0]) - expected[0]), std::abs(double(output[1]) - expected[1])});
  }
  return largest;
}

void add_agreement_context(const Fixture& fixture, const FixedNetS* fixed_s, const FixedNetL* fixed_l) {
  auto workspace = fixture.network.make_workspace();
  auto bf16_workspace = fixture.bf16_network.make_workspace();
  const std::string net = fixture.shape.name;
  benchmark::AddCustomContext("max |metnet - baseline| " + net, std::to_string(max_difference(fixture, [&](const float* in, float* out) {
                                fixture.network.predict(in, out, workspace);
                              })));
  benchmark::AddCustomContext("max |bf16 - baseline| " + net, std::to_string(max_difference(fixture, [&](const float* in, float* out) {
                                fixture.bf16_network.predict(in, out, bf16_workspace);
                              })));
  if (fixed_s != nullptr) {
    benchmark::AddCustomContext("max |FixedMlp - baseline| " + net, std::to_string(max_difference(fixture, [&](const float* in, float* out) {
                                  fixed_s->predict(in, out);
                                })));
  }
  if (fixed_l != nullptr) {
    benchmark::AddCustomContext("max |FixedMlp - baseline| " + net, std::to_string(max_difference(fixture, [&](const float* in, float* out) {
                                  fixed_l->predict(in, out);
                                })));
  }
}

}  // namespace

int main(int argc, char** argv) {
  Eigen::setNbThreads(1);
  const Fixture net_s(metnet::bench::net_s);
  const Fixture net_l(metnet::bench::net_l);
  // FixedMlp stores its weights inline (4.4 MB for Net L), so it lives on the heap here.
  const auto fixed_s = std::make_unique<FixedNetS>(net_s.weights);
  const auto fixed_l = std::make_unique<FixedNetL>(net_l.weights);

  benchmark::AddCustomContext("compiler and flags", METNET_BENCH_COMPILER_FLAGS);
  benchmark::AddCustomContext("SIMD packet (floats)", std::to_string(metnet::detail::packet_size<float>));
  benchmark::AddCustomContext("bf16 kernel", metnet::detail::has_bf16_dot ? "vdpbf16ps (AVX512-BF16)"
                                                                        : "bf16 weights widened to float");
  add_agreement_context(net_s, fixed_s.get(), nullptr);
  add_agreement_context(net_l, nullptr, fixed_l.get());

  register_single_event(net_s, fixed_s.get(), nullptr);
  register_single_event(net_l, nullptr, fixed_l.get());
  register_weight_stream(net_s);
  register_weight_stream(net_l);
  for (const Index rows : {64, 1024, 65536}) {
    register_batch(net_s, rows);
    register_batch(net_l, rows);
  }

  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) {
    return 1;
  }
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
