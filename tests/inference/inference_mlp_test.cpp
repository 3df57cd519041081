// SPDX-License-Identifier: MIT
// Tests of metnet::InferenceMlp against the double-precision reference
// forward pass in reference_mlp.hpp.

#include <atomic>
#include <cfenv>
#include <cmath>
#include <cstdlib>
#include <new>
#include <vector>

#include <catch2/catch.hpp>

#include "metnet/inference/inference_mlp.hpp"
#include "reference_mlp.hpp"

// Counting of heap allocations, so that a test can prove that a call does
// not allocate. Under AddressSanitizer or ThreadSanitizer the sanitizer's
// allocator hooks count; otherwise the global operator new is replaced. GCC 12
// flags free() on memory from a replaced operator new as mismatched; here
// both sides use malloc and free.
namespace {
std::atomic<long> allocation_count{0};
}

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
// Declared here because GCC ships no <sanitizer/allocator_interface.h>;
// the function is part of the ASan and TSan runtimes of GCC and Clang.
extern "C" int __sanitizer_install_malloc_and_free_hooks(void (*malloc_hook)(const volatile void*, std::size_t),
                                                         void (*free_hook)(const volatile void*));

namespace {
void count_allocation(const volatile void*, std::size_t) { allocation_count.fetch_add(1, std::memory_order_relaxed); }
void ignore_free(const volatile void*) {}
const int hooks_installed = __sanitizer_install_malloc_and_free_hooks(count_allocation, ignore_free);
}  // namespace
#else
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

void* operator new(std::size_t size) {
  allocation_count.fetch_add(1, std::memory_order_relaxed);
  if (void* pointer = std::malloc(size == 0 ? 1 : size)) {
    return pointer;
  }
  throw std::bad_alloc();
}
void* operator new(std::size_t size, const std::nothrow_t&) noexcept {
  allocation_count.fetch_add(1, std::memory_order_relaxed);
  return std::malloc(size == 0 ? 1 : size);
}
void operator delete(void* pointer) noexcept { std::free(pointer); }
void operator delete(void* pointer, std::size_t) noexcept { std::free(pointer); }
void operator delete(void* pointer, const std::nothrow_t&) noexcept { std::free(pointer); }
#endif

namespace {

using metnet::Index;
using metnet::InferenceMlp;
using metnet::Matrix;
using metnet::MlpConfig;
using Catch::Matchers::WithinAbs;

// Float against double: each output is O(1) after ten normalised layers and
// a float forward pass accumulates about 1e-6 relative error per layer, so
// 2e-5 absolute leaves a margin of about 3 over the worst case seen (7e-6).
constexpr double float_tolerance = 2e-5;

// The double path differs from the reference only in summation order.
constexpr double double_tolerance = 1e-12;

template <class Network, class Scalar>
void check_single_events(const Network& network, const metnet::MlpWeights<double>& weights,
                         const Matrix<double>& inputs, double tolerance) {
  auto workspace = network.make_workspace();
  std::vector<Scalar> input(static_cast<std::size_t>(weights.config.inputs));
  std::vector<Scalar> output(static_cast<std::size_t>(weights.config.outputs));
  for (Index event = 0; event < inputs.rows(); ++event) {
    for (Index c = 0; c < inputs.cols(); ++c) {
      input[static_cast<std::size_t>(c)] = static_cast<Scalar>(inputs(event, c));
    }
    network.predict(input.data(), output.data(), workspace);
    const auto expected = metnet::test::reference_forward(weights, metnet::test::row_of(inputs, event));
    for (std::size_t o = 0; o < expected.size(); ++o) {
      CHECK_THAT(static_cast<double>(output[o]), WithinAbs(expected[o], tolerance));
    }
  }
}

}  // namespace

TEST_CASE("single event matches the double reference on Net S", "[inference][single]") {
  const auto weights = metnet::test::random_weights(metnet::test::net_s_config(), 1);
  const auto inputs = metnet::test::random_inputs(20, 77, 2);
  check_single_events<InferenceMlp<float>, float>(InferenceMlp<float>(weights.cast<float>()), weights, inputs,
                                                  float_tolerance);
}

TEST_CASE("double network matches the reference to rounding", "[inference][single]") {
  const auto weights = metnet::test::random_weights(metnet::test::net_s_config(), 3);
  const auto inputs = metnet::test::random_inputs(5, 77, 4);
  check_single_events<InferenceMlp<double>, double>(InferenceMlp<double>(weights), weights, inputs,
                                                    double_tolerance);
}

TEST_CASE("odd widths and every activation match the reference", "[inference][single]") {
  // 37 inputs, width 45 and 3 outputs are not multiples of any SIMD width,
  // so padding and the tail blocks are exercised; width 200 needs two
  // column blocks of different sizes with AVX-512 (128 + 80). Width 5 and
  // the 3 outputs are at most half a packet with AVX-512 floats, so those
  // layers are stored by rows and computed as dot products (dense_dots).
  const std::vector<Index> widths = {5, 45, 200};
  const std::vector<metnet::Activation> activations = {metnet::Activation::identity, metnet::Activation::relu,
                                                       metnet::Activation::silu, metnet::Activation::tanh};
  for (const Index width : widths) {
    for (const auto activation : activations) {
      for (const bool layer_norm : {true, false}) {
        MlpConfig config;
        config.inputs = 37;
        config.width = width;
        config.hidden_layers = 3;
        config.outputs = 3;
        config.activation = activation;
        config.layer_norm = layer_norm;
        INFO("width " << width << ", activation " << metnet::to_string(activation) << ", layer_norm "
                      << layer_norm);
        const auto weights = metnet::test::random_weights(config, 5);
        const auto inputs = metnet::test::random_inputs(3, 37, 6);
        check_single_events<InferenceMlp<double>, double>(InferenceMlp<double>(weights), weights, inputs,
                                                          double_tolerance);
      }
    }
  }
}

TEST_CASE("batch matches single events for every row count", "[inference][batch]") {
  const auto weights = metnet::test::random_weights(metnet::test::net_s_config(), 7).cast<float>();
  // tile_rows 10 splits a batch into several passes with a tail pass.
  const InferenceMlp<float> network(weights, 10);
  auto workspace = network.make_workspace();
  for (const Index rows : {1, 2, 5, 6, 7, 13, 33}) {
    const Matrix<float> inputs = metnet::test::random_inputs(rows, 77, 8).cast<float>();
    const Matrix<float> outputs = network.predict(inputs, workspace);
    REQUIRE(outputs.rows() == rows);
    for (Index event = 0; event < rows; ++event) {
      float single[2];
      network.predict(inputs.row(event).data(), single, workspace);
      // The batched and single kernels add the same products in the same
      // order, so the results agree to the last bit.
      CHECK(outputs(event, 0) == single[0]);
      CHECK(outputs(event, 1) == single[1]);
    }
  }
}

TEST_CASE("staged single event equals batch", "[inference][single][batch]") {
  // The single-event call computes each layer's input inside the next
  // product (identity, ReLU and SiLU), the batched call in a separate pass.
  // Both must round alike for every activation, with and without layer
  // normalisation, for float and bf16 weights, and for widths that leave
  // partial packets (45), several column blocks (200) or hidden layers
  // computed as dot products (5, with AVX-512).
  const std::vector<metnet::Activation> activations = {metnet::Activation::identity, metnet::Activation::relu,
                                                       metnet::Activation::silu, metnet::Activation::tanh};
  for (const Index width : {5, 45, 200}) {
    for (const auto activation : activations) {
      for (const bool layer_norm : {true, false}) {
        MlpConfig config;
        config.inputs = 37;
        config.width = width;
        config.hidden_layers = 3;
        config.outputs = 3;
        config.activation = activation;
        config.layer_norm = layer_norm;
        INFO("width " << width << ", activation " << metnet::to_string(activation) << ", layer_norm "
                      << layer_norm);
        const auto weights = metnet::test::random_weights(config, 27).cast<float>();
        const Matrix<float> inputs = metnet::test::random_inputs(5, 37, 28).cast<float>();
        const InferenceMlp<float> network(weights);
        const metnet::Bf16InferenceMlp bf16_network(weights);
        auto workspace = network.make_workspace();
        auto bf16_workspace = bf16_network.make_workspace();
        const Matrix<float> batch = network.predict(inputs, workspace);
        const Matrix<float> bf16_batch = bf16_network.predict(inputs, bf16_workspace);
        for (Index event = 0; event < inputs.rows(); ++event) {
          float single[3];
          float bf16_single[3];
          network.predict(inputs.row(event).data(), single, workspace);
          bf16_network.predict(inputs.row(event).data(), bf16_single, bf16_workspace);
          for (Index o = 0; o < 3; ++o) {
            CHECK(single[o] == batch(event, o));
            CHECK(bf16_single[o] == bf16_batch(event, o));
          }
        }
      }
    }
  }
}

TEST_CASE("batch matches the double reference", "[inference][batch]") {
  const auto weights = metnet::test::random_weights(metnet::test::net_s_config(), 9);
  const InferenceMlp<float> network(weights.cast<float>());
  auto workspace = network.make_workspace();
  const Matrix<double> inputs = metnet::test::random_inputs(200, 77, 10);
  const Matrix<float> outputs = network.predict(inputs.cast<float>(), workspace);
  for (Index event = 0; event < inputs.rows(); ++event) {
    const auto expected = metnet::test::reference_forward(weights, metnet::test::row_of(inputs, event));
    CHECK_THAT(outputs(event, 0), WithinAbs(expected[0], float_tolerance));
    CHECK_THAT(outputs(event, 1), WithinAbs(expected[1], float_tolerance));
  }
}

TEST_CASE("parallel batch equals the serial batch", "[inference][batch][threads]") {
  const auto weights = metnet::test::random_weights(metnet::test::net_s_config(), 11).cast<float>();
  const InferenceMlp<float> network(weights, 16);
  auto workspace = network.make_workspace();
  const Matrix<float> inputs = metnet::test::random_inputs(101, 77, 12).cast<float>();
  const Matrix<float> serial = network.predict(inputs, workspace);
  for (const int threads : {1, 2, 3, 7}) {
    Matrix<float> parallel(inputs.rows(), 2);
    network.predict_parallel(inputs, parallel, threads);
    CHECK(parallel == serial);
  }
}

// Heap allocations made by single-event and batched predictions with a
// workspace made beforehand.
template <class Network>
long allocations_while_predicting(const Network& network, const Matrix<float>& inputs) {
  auto workspace = network.make_workspace();
  Matrix<float> outputs(inputs.rows(), 2);
  float output[2];

  const long before = allocation_count.load();
  for (Index event = 0; event < inputs.rows(); ++event) {
    network.predict(inputs.row(event).data(), output, workspace);
  }
  network.predict(inputs, outputs, workspace);
  return allocation_count.load() - before;
}

TEST_CASE("single event prediction does not allocate", "[inference][single][allocation]") {
  const auto weights = metnet::test::random_weights(metnet::test::net_s_config(), 13).cast<float>();
  const InferenceMlp<float> network(weights);
  const Matrix<float> inputs = metnet::test::random_inputs(4, 77, 14).cast<float>();
  CHECK(allocations_while_predicting(network, inputs) == 0);
}

TEST_CASE("bf16 single event does not allocate", "[inference][single][allocation][bf16]") {
  // With AVX512-BF16 this runs the vdpbf16ps kernel, which rounds each
  // layer's input into the workspace; otherwise the portable bf16 path.
  INFO("vdpbf16ps kernel compiled in: " << metnet::detail::has_bf16_dot);
  const auto weights = metnet::test::random_weights(metnet::test::net_s_config(), 19).cast<float>();
  const metnet::Bf16InferenceMlp network(weights);
  const Matrix<float> inputs = metnet::test::random_inputs(4, 77, 20).cast<float>();
  CHECK(allocations_while_predicting(network, inputs) == 0);
}

TEST_CASE("wrong sizes raise ShapeError", "[inference][errors]") {
  const auto weights = metnet::test::random_weights(metnet::test::net_s_config(), 15).cast<float>();
  const InferenceMlp<float> network(weights);
  auto workspace = network.make_workspace();
  Matrix<float> inputs(3, 76);
  Matrix<float> outputs(3, 2);
  CHECK_THROWS_AS(network.predict(inputs, outputs, workspace), metnet::ShapeError);
  Matrix<float> good_inputs = Matrix<float>::Zero(3, 77);
  Matrix<float> short_outputs(2, 2);
  CHECK_THROWS_AS(network.predict(good_inputs, short_outputs, workspace), metnet::ShapeError);
  std::vector<float> event(76);
  std::vector<float> output(2);
  CHECK_THROWS_AS(network.predict(std::span<const float>(event), std::span<float>(output), workspace),
                  metnet::ShapeError);

  auto broken = weights;
  broken.linear[3].weight.resize(128, 127);
  CHECK_THROWS_AS(InferenceMlp<float>(broken), metnet::ShapeError);
}

TEST_CASE("large inputs raise no floating-point exception", "[inference][numerics]") {
  // SiLU evaluates exp(-x); without the clamp, x = -1e4 overflows exp and
  // raises FE_OVERFLOW, which ATLAS jobs trap.
  const auto weights = metnet::test::random_weights(metnet::test::net_s_config(), 17);
  const InferenceMlp<float> network(weights.cast<float>());
  auto workspace = network.make_workspace();
  const Matrix<double> inputs = metnet::test::random_inputs(8, 77, 18, 1e4);
  const Matrix<float> inputs_float = inputs.cast<float>();
  Matrix<float> outputs(8, 2);
  float single[2];

  std::feclearexcept(FE_ALL_EXCEPT);
  network.predict(inputs_float, outputs, workspace);
  network.predict(inputs_float.row(0).data(), single, workspace);
  const int raised = std::fetestexcept(FE_OVERFLOW | FE_INVALID | FE_DIVBYZERO);
  CHECK((raised & FE_OVERFLOW) == 0);
  CHECK((raised & FE_INVALID) == 0);
  CHECK((raised & FE_DIVBYZERO) == 0);
  for (Index event = 0; event < inputs.rows(); ++event) {
    const auto expected = metnet::test::reference_forward(weights, metnet::test::row_of(inputs, event));
    // Inputs of 1e4 make the first pre-activations about 1e5, so float
    // rounding is about 1e-2 absolute there; LayerNorm then rescales to O(1).
    CHECK_THAT(outputs(event, 0), WithinAbs(expected[0], 1e-3));
    CHECK_THAT(outputs(event, 1), WithinAbs(expected[1], 1e-3));
  }
}

TEST_CASE("SiLU stays accurate over the float range", "[inference][numerics]") {
  // One row: the vectorised max(x, -80) / (1 + exp(-max(x, -80))) against
  // the double formula. Eigen 3.4's float exp is accurate to about 1 ulp, so
  // the relative error stays within a few float ulps (1 ulp = 6e-8).
  std::vector<float> row;
  for (int i = -2000; i <= 2000; ++i) {
    row.push_back(static_cast<float>(i) * 0.05f);
  }
  row.push_back(-1e30f);
  row.push_back(1e30f);
  // apply_activation works on whole aligned packets; the padding must stay zero.
  const Index padded = metnet::detail::round_up(static_cast<Index>(row.size()), metnet::detail::packet_size<float>);
  std::vector<float, Eigen::aligned_allocator<float>> values(static_cast<std::size_t>(padded), 0.0f);
  std::copy(row.begin(), row.end(), values.begin());
  metnet::detail::apply_activation(values.data(), padded, metnet::Activation::silu);
  for (std::size_t i = row.size(); i < values.size(); ++i) {
    CHECK(values[i] == 0.0f);
  }
  double max_relative = 0.0;
  for (std::size_t i = 0; i < row.size(); ++i) {
    const double x = row[i];
    const double expected = x / (1.0 + std::exp(std::min(-x, 700.0)));
    if (std::abs(expected) > 1e-30) {
      max_relative = std::max(max_relative, std::abs(values[i] - expected) / std::abs(expected));
    } else {
      CHECK(std::abs(values[i]) < 1e-30);
    }
  }
  CHECK(max_relative < 5e-7);
}
