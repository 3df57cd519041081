// SPDX-License-Identifier: MIT
// Training-side benchmarks: the Sinkhorn divergence with its gradient, and
// one training step (forward, Huber loss, backward, Adam) of Net S and Net L.
//
// BM_Sinkhorn/<points>/<epsilon in 1e-3 units>/<accelerated>: two clouds of
// 2-D points, x ~ N(0, 1) and y ~ N(0.3, 1.2) per coordinate, uniform
// weights, float, default settings apart from epsilon and the solver
// (accelerated:1 is the default solver, accelerated:0 the plain one). The
// counters record the divergence, the iterations at the final epsilon and
// whether the run converged.
// BM_SinkhornMetLike/<points>/<predictions>: eight draws of clouds shaped like
// the standardised true MET of ttbar batches in the frame rotated to the
// reference MET (met_like_targets below, as in
// tests/loss/make_sinkhorn_fixture.py), one draw per call in turn,
// epsilon 0.01, default settings. predictions:0 puts the predictions in a
// tight cluster (an untrained network), predictions:1 lets them follow the
// targets with noise (a partly trained one). The counters are the means over
// the draws of the iterations and of the converged flag.
// BM_TrainStep/<net>/<batch>/<threads>/<products>: metnet::Mlp::forward_backward
// with metnet::Huber, then metnet::Adam::step and zero_grad on the network's
// threads, on standard-normal inputs and targets, with Mlp::set_threads(threads).
// products:1 runs the matrix products on the packed kernel
// (autodiff/detail/gemm.hpp, the default). products:0 runs them on Eigen's
// GEMM on one thread (Mlp::set_eigen_products), the path metnet used
// before, kept as the baseline. Timed in wall-clock time. The CPU column is the CPU time of the
// whole process, all threads together. Baselines: benchmarks/pytorch_train_step.py and
// benchmarks/pytorch_sinkhorn.py, run beside this program.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <benchmark/benchmark.h>

#include "bench_networks.hpp"
#include "metnet/core/random.hpp"
#include "metnet/loss/huber.hpp"
#include "metnet/loss/sinkhorn.hpp"
#include "metnet/nn/mlp.hpp"
#include "metnet/optim/adam.hpp"

namespace {

using metnet::Index;
using metnet::Matrix;
using metnet::Vector;

Matrix<float> normal_points(Index rows, Index cols, double mean, double sigma, std::uint64_t seed) {
  metnet::Rng rng(seed);
  Matrix<float> points(rows, cols);
  for (Index i = 0; i < points.size(); ++i) {
    points.data()[i] = static_cast<float>(rng.normal(mean, sigma));
  }
  return points;
}

void BM_Sinkhorn(benchmark::State& state) {
  const Index points = state.range(0);
  const double epsilon = static_cast<double>(state.range(1)) * 1e-3;
  const Matrix<float> x = normal_points(points, 2, 0.0, 1.0, 1);
  const Matrix<float> y = normal_points(points, 2, 0.3, 1.2, 2);
  metnet::Sinkhorn loss{.epsilon = epsilon};
  loss.accelerated = state.range(2) != 0;
  metnet::SinkhornResult<float> result;
  for (auto _ : state) {
    result = loss.divergence_and_gradient<float>(x, Vector<float>(), y, Vector<float>());
    benchmark::DoNotOptimize(result.gradient.data());
  }
  state.SetItemsProcessed(state.iterations() * points);
  state.counters["S"] = result.divergence;
  state.counters["iterations"] = static_cast<double>(result.iterations);
  state.counters["converged"] = result.converged ? 1.0 : 0.0;
}
BENCHMARK(BM_Sinkhorn)
    ->ArgsProduct({{256, 1024, 4096}, {100, 10}, {0, 1}})
    ->ArgNames({"points", "eps_milli", "accelerated"})
    ->Unit(benchmark::kMillisecond);

// Targets along the reference direction: a log-normal (sigma 0.6),
// standardised and times `spread`; across it: 0.8 times a Student t with 5
// degrees of freedom. Rows are (along, across).
Matrix<float> met_like_targets(Index rows, double spread, metnet::Rng& rng) {
  const double sigma = 0.6;
  const double mean = std::exp(sigma * sigma / 2.0);
  const double sd = std::sqrt((std::exp(sigma * sigma) - 1.0) * std::exp(sigma * sigma));
  Matrix<float> points(rows, 2);
  for (Index i = 0; i < rows; ++i) {
    points(i, 0) = static_cast<float>(spread * (std::exp(sigma * rng.normal()) - mean) / sd);
    double chi_square = 0.0;
    for (int k = 0; k < 5; ++k) {
      const double z = rng.normal();
      chi_square += z * z;
    }
    points(i, 1) = static_cast<float>(0.8 * rng.normal() / std::sqrt(chi_square / 5.0));
  }
  return points;
}

void BM_SinkhornMetLike(benchmark::State& state) {
  const Index points = state.range(0);
  const bool trained = state.range(1) != 0;
  constexpr int draws = 8;
  std::vector<Matrix<float>> predictions;
  std::vector<Matrix<float>> targets;
  metnet::Rng rng(2025);
  for (int draw = 0; draw < draws; ++draw) {
    // Spread 1: targets standardised on their own. Spread 2.3: standardised
    // with the spread of the residual to the reference MET, as the shifted
    // loss of residual training compares them.
    Matrix<float> target = met_like_targets(points, trained ? 2.3 : 1.0, rng);
    Matrix<float> prediction(points, 2);
    for (Index i = 0; i < points; ++i) {
      prediction(i, 0) = static_cast<float>(trained ? 0.9 * target(i, 0) + rng.normal(0.0, 1.0) : rng.normal(0.0, 0.5));
      prediction(i, 1) = static_cast<float>(trained ? 0.8 * target(i, 1) + rng.normal(0.0, 0.7) : rng.normal(0.0, 0.5));
    }
    predictions.push_back(std::move(prediction));
    targets.push_back(std::move(target));
  }

  const metnet::Sinkhorn loss{};
  double iterations = 0.0;
  double converged = 0.0;
  std::int64_t calls = 0;
  for (auto _ : state) {
    const auto draw = static_cast<std::size_t>(calls % draws);
    const auto result =
        loss.divergence_and_gradient<float>(predictions[draw], Vector<float>(), targets[draw], Vector<float>());
    benchmark::DoNotOptimize(result.gradient.data());
    iterations += static_cast<double>(result.iterations);
    converged += result.converged ? 1.0 : 0.0;
    ++calls;
  }

  state.SetItemsProcessed(state.iterations() * points);
  state.counters["iterations"] = iterations / static_cast<double>(std::max<std::int64_t>(calls, 1));
  state.counters["converged"] = converged / static_cast<double>(std::max<std::int64_t>(calls, 1));
}
BENCHMARK(BM_SinkhornMetLike)
    ->ArgsProduct({{256, 1024}, {0, 1}})
    ->ArgNames({"points", "predictions"})
    ->Unit(benchmark::kMillisecond);

void BM_TrainStep(benchmark::State& state, const metnet::bench::NetShape& shape) {
  const Index batch = state.range(0);
  const int threads = static_cast<int>(state.range(1));
  const bool packed_products = state.range(2) != 0;
  metnet::Mlp<float> network(metnet::bench::random_weights(shape, 2024));
  network.set_threads(threads);
  network.set_eigen_products(!packed_products);
  metnet::Adam<float> optimiser(network.parameters());
  const Matrix<float> inputs = normal_points(batch, shape.inputs, 0.0, 1.0, 3);
  const Matrix<float> targets = normal_points(batch, 2, 0.0, 1.0, 4);
  const metnet::Huber loss{};
  float value = 0.0F;
  for (auto _ : state) {
    value = network.forward_backward<metnet::Huber>(inputs, targets, Vector<float>(), loss);
    optimiser.step(network);
    optimiser.zero_grad(network);
  }
  benchmark::DoNotOptimize(value);
  state.SetItemsProcessed(state.iterations() * batch);
  state.counters["threads"] = network.threads();
}
// Eigen's products run on one thread, so products:0 is registered for threads:1 only.
void train_step_arguments(benchmark::internal::Benchmark* benchmark) {
  benchmark->ArgNames({"", "threads", "products"});
  benchmark->Args({1024, 1, 0});
  benchmark->Args({1024, 1, 1});
  benchmark->Args({1024, 2, 1});
}
BENCHMARK_CAPTURE(BM_TrainStep, S, metnet::bench::net_s)
    ->Apply(train_step_arguments)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->MeasureProcessCPUTime();
BENCHMARK_CAPTURE(BM_TrainStep, L, metnet::bench::net_l)
    ->Apply(train_step_arguments)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->MeasureProcessCPUTime();

}  // namespace

int main(int argc, char** argv) {
  // Eigen's own products (BM_Sinkhorn, the products:0 baseline) on one thread.
  Eigen::setNbThreads(1);
  benchmark::Initialize(&argc, argv);
  benchmark::AddCustomContext("compiler and flags", METNET_BENCH_COMPILER_FLAGS);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
