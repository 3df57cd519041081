// SPDX-License-Identifier: MIT
// metnet::InferenceMlp against LibTorch (torch::nn::Sequential of Linear,
// SiLU and LayerNorm) on Net S and Net L with the same weights and inputs.
// Both sides run on one thread (at::set_num_threads(1)), the outputs are
// compared before timing, and the runs are interleaved: each round times
// metnet then LibTorch, and the program prints the medians and the ratio.
// Usage: compare_libtorch [rounds]   (default 15)

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "bench_networks.hpp"
#include "metnet/inference.hpp"

namespace {

using metnet::Index;
using metnet::Matrix;
using Clock = std::chrono::steady_clock;

torch::Tensor to_tensor(const Matrix<float>& matrix) {
  return torch::from_blob(const_cast<float*>(matrix.data()), {matrix.rows(), matrix.cols()}, torch::kFloat32).clone();
}

torch::Tensor to_tensor(const metnet::RowVector<float>& vector) {
  return torch::from_blob(const_cast<float*>(vector.data()), {vector.size()}, torch::kFloat32).clone();
}

torch::nn::Sequential make_torch_network(const metnet::MlpWeights<float>& weights) {
  torch::nn::Sequential network;
  const auto& c = weights.config;
  for (Index i = 0; i <= c.hidden_layers; ++i) {
    const auto& linear_weights = weights.linear[static_cast<std::size_t>(i)];
    torch::nn::Linear linear(linear_weights.weight.cols(), linear_weights.weight.rows());
    linear->weight.set_data(to_tensor(linear_weights.weight));
    linear->bias.set_data(to_tensor(linear_weights.bias));
    network->push_back(linear);
    if (i == c.hidden_layers) {
      break;
    }
    network->push_back(torch::nn::SiLU());
    torch::nn::LayerNorm norm(torch::nn::LayerNormOptions({c.width}).eps(c.layer_norm_eps));
    norm->weight.set_data(to_tensor(weights.norm[static_cast<std::size_t>(i)].gamma));
    norm->bias.set_data(to_tensor(weights.norm[static_cast<std::size_t>(i)].beta));
    network->push_back(norm);
  }
  network->eval();
  return network;
}

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

// Seconds per call of `run`, timed over `calls` calls.
template <class Run>
double time_calls(int calls, Run&& run) {
  const auto start = Clock::now();
  for (int call = 0; call < calls; ++call) {
    run(call);
  }
  return std::chrono::duration<double>(Clock::now() - start).count() / calls;
}

void compare(const metnet::bench::NetShape& shape, Index rows, int rounds) {
  const auto weights = metnet::bench::random_weights(shape, 2024);
  const metnet::InferenceMlp<float> network(weights);
  auto workspace = network.make_workspace();
  torch::nn::Sequential torch_network = make_torch_network(weights);

  const Index pool = rows == 1 ? 256 : 1;  // single events cycle through 256 inputs
  const Matrix<float> inputs = metnet::bench::random_inputs(std::max(rows, pool), shape.inputs, 7);
  const torch::Tensor torch_inputs = to_tensor(inputs);
  Matrix<float> outputs(inputs.rows(), 2);

  // Agreement check on the whole input set.
  torch::InferenceMode guard;
  network.predict(inputs, outputs, workspace);
  const torch::Tensor torch_outputs = torch_network->forward(torch_inputs).contiguous();
  const Matrix<float> torch_matrix = Eigen::Map<const Matrix<float>>(torch_outputs.data_ptr<float>(), inputs.rows(), 2);
  const double difference = (outputs - torch_matrix).cwiseAbs().maxCoeff();

  // Calls per round, so that one round takes a few milliseconds on either net.
  int calls = shape.name == "S" ? 10 : 2;
  if (rows == 1) {
    calls = shape.name == "S" ? 2000 : 300;
  }
  std::vector<double> metnet_times;
  std::vector<double> torch_times;
  for (int round = 0; round < rounds; ++round) {
    if (rows == 1) {
      metnet_times.push_back(time_calls(calls, [&](int call) {
        network.predict(inputs.row(call % pool).data(), outputs.row(0).data(), workspace);
      }));
      torch_times.push_back(time_calls(calls, [&](int call) {
        const torch::Tensor result = torch_network->forward(torch_inputs.narrow(0, call % pool, 1));
        outputs(0, 0) = result[0][0].item<float>();
      }));
    } else {
      metnet_times.push_back(time_calls(calls, [&](int) { network.predict(inputs, outputs, workspace); }));
      torch_times.push_back(time_calls(calls, [&](int) {
        const torch::Tensor result = torch_network->forward(torch_inputs);
        outputs(0, 0) = result[0][0].item<float>();
      }));
    }
  }

  const double metnet_seconds = median(metnet_times);
  const double torch_seconds = median(torch_times);
  if (rows == 1) {
    std::printf("%s batch 1     metnet %8.2f us   LibTorch %8.2f us   LibTorch/metnet %5.1f   max |diff| %.2g\n",
                shape.name.c_str(), metnet_seconds * 1e6, torch_seconds * 1e6, torch_seconds / metnet_seconds, difference);
  } else {
    std::printf("%s batch %-5ld metnet %8.0f ev/s LibTorch %8.0f ev/s metnet/LibTorch %5.1f   max |diff| %.2g\n",
                shape.name.c_str(), static_cast<long>(rows), rows / metnet_seconds, rows / torch_seconds,
                torch_seconds / metnet_seconds, difference);
  }
}

}  // namespace

int main(int argc, char** argv) {
  const int rounds = argc > 1 ? std::max(1, std::atoi(argv[1])) : 15;
  at::set_num_threads(1);
  at::set_num_interop_threads(1);
  Eigen::setNbThreads(1);
  std::printf("compiler and flags: %s\nLibTorch threads: %d, rounds: %d (medians)\n", METNET_BENCH_COMPILER_FLAGS,
              at::get_num_threads(), rounds);
  for (const auto* shape : {&metnet::bench::net_s, &metnet::bench::net_l}) {
    compare(*shape, 1, rounds);
    compare(*shape, 1024, rounds);
  }
  return 0;
}
