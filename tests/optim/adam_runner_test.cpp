// SPDX-License-Identifier: MIT
// Adam::step(runner) and Adam::zero_grad(runner) on range runners that cut
// and order the ranges differently from one thread, on parameters whose
// sizes sit on the boundaries of the update's pieces of 4096 values. Every
// runner must give bitwise the result of Adam::step(), and a rejected step
// must leave values, gradients, moments and the step count as they were.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <catch2/catch.hpp>

#include "metnet/core/random.hpp"
#include "metnet/loss/huber.hpp"
#include "metnet/nn/mlp.hpp"
#include "metnet/optim/adam.hpp"

namespace {

using metnet::Adam;
using metnet::AdamOptions;
using metnet::Index;
using metnet::Matrix;
using metnet::Parameter;

// Runs the ranges in reverse order, cut at every `stride` grains, with the
// last range shorter than the others.
struct ReverseRunner {
  Index stride = 3;

  template <class Body>
  void for_ranges(Index count, Index grain, const Body& body) const {
    const Index length = std::max<Index>(grain, 1) * stride;
    std::vector<std::pair<Index, Index>> ranges;
    for (Index begin = 0; begin < count; begin += length) {
      ranges.emplace_back(begin, std::min(count, begin + length));
    }
    std::reverse(ranges.begin(), ranges.end());
    for (const auto& [begin, end] : ranges) {
      body(begin, end);
    }
  }
};

// Runs every grain as its own range, each on a new std::thread, all at once.
struct ThreadPerRangeRunner {
  template <class Body>
  void for_ranges(Index count, Index grain, const Body& body) const {
    const Index length = std::max<Index>(grain, 1);
    std::vector<std::thread> threads;
    for (Index begin = 0; begin < count; begin += length) {
      threads.emplace_back([&body, begin, end = std::min(count, begin + length)] { body(begin, end); });
    }
    for (auto& thread : threads) {
      thread.join();
    }
  }
};

static_assert(metnet::RangeRunner<ReverseRunner>);
static_assert(metnet::RangeRunner<ThreadPerRangeRunner>);
static_assert(metnet::RangeRunner<metnet::Mlp<float>>);

// Sizes around the boundaries of the update's pieces, and one matrix
// (3 x 1366 = 4098 values) whose pieces end inside a column.
const std::vector<std::pair<Index, Index>> boundary_shapes = {
    {0, 1}, {1, 1}, {4095, 1}, {4096, 1}, {4097, 1}, {8193, 1}, {3, 1366}, {0, 5},
};

template <class T>
std::vector<Parameter<T>> make_parameters(std::uint64_t seed) {
  metnet::Rng rng(seed);
  std::vector<Parameter<T>> parameters;
  for (std::size_t k = 0; k < boundary_shapes.size(); ++k) {
    const auto [rows, cols] = boundary_shapes[k];
    // Appended rather than "p" + std::to_string(k), on which GCC 12 warns
    // about a memcpy that cannot happen (-Wrestrict).
    std::string name = "p";
    name += std::to_string(k);
    Parameter<T> parameter{.name = name, .value = Matrix<T>(rows, cols), .grad = {}};
    for (Index i = 0; i < parameter.value.size(); ++i) {
      parameter.value.data()[i] = static_cast<T>(rng.normal());
    }
    parameters.push_back(std::move(parameter));
  }
  return parameters;
}

template <class T>
void fill_gradients(std::vector<Parameter<T>>& parameters, std::uint64_t seed) {
  metnet::Rng rng(seed);
  for (auto& parameter : parameters) {
    parameter.grad.resize(parameter.value.rows(), parameter.value.cols());
    for (Index i = 0; i < parameter.grad.size(); ++i) {
      parameter.grad.data()[i] = static_cast<T>(rng.normal());
    }
  }
}

template <class T>
metnet::ParameterList<T> pointers(std::vector<Parameter<T>>& parameters) {
  metnet::ParameterList<T> list;
  for (auto& parameter : parameters) {
    list.push_back(&parameter);
  }
  return list;
}

// Four steps of Adam on `runner` and on one thread, from the same values and
// gradients: norms, values, clipped gradients and moments must be equal.
template <class T, class Runner>
void check_runner_matches_serial(Runner& runner, const AdamOptions& options) {
  std::vector<Parameter<T>> ran = make_parameters<T>(1);
  std::vector<Parameter<T>> serial = make_parameters<T>(1);
  Adam<T> ran_adam(pointers(ran), options);
  Adam<T> serial_adam(pointers(serial), options);

  for (int step = 0; step < 4; ++step) {
    INFO("step " << step);
    ran_adam.zero_grad(runner);
    serial_adam.zero_grad();
    for (std::size_t k = 0; k < ran.size(); ++k) {
      CHECK(ran[k].grad == serial[k].grad);
    }
    fill_gradients(ran, 100 + static_cast<std::uint64_t>(step));
    fill_gradients(serial, 100 + static_cast<std::uint64_t>(step));

    const double ran_norm = ran_adam.step(runner);
    const double serial_norm = serial_adam.step();
    CHECK(ran_norm == serial_norm);
    for (std::size_t k = 0; k < ran.size(); ++k) {
      INFO("parameter " << ran[k].name);
      CHECK(ran[k].value == serial[k].value);
      CHECK(ran[k].grad == serial[k].grad);
      CHECK(ran_adam.state().first_moment[k] == serial_adam.state().first_moment[k]);
      CHECK(ran_adam.state().second_moment[k] == serial_adam.state().second_moment[k]);
    }
  }
  CHECK(ran_adam.step_count() == 4);
  // The update changed every value, so the comparison above was not between
  // two untouched copies.
  for (std::size_t k = 0; k < ran.size(); ++k) {
    const std::vector<Parameter<T>> initial = make_parameters<T>(1);
    CHECK((ran[k].value.array() != initial[k].value.array()).count() == ran[k].value.size());
  }
}

// Options that exercise each branch of the update: plain, clipping below
// the norm, L2 decay, decoupled decay with clipping, and a schedule.
std::vector<AdamOptions> option_sets() {
  return {
      AdamOptions{.lr = 1e-2},
      AdamOptions{.lr = 1e-2, .max_grad_norm = 0.5},
      AdamOptions{.lr = 1e-2, .weight_decay = 0.1},
      AdamOptions{.lr = 1e-2, .weight_decay = 0.1, .decay_mode = metnet::WeightDecay::decoupled,
                  .max_grad_norm = 2.0},
      AdamOptions{.schedule = [](std::int64_t t) { return 1e-2 / static_cast<double>(t + 1); }},
  };
}

template <class T>
void check_all_runners() {
  for (const AdamOptions& options : option_sets()) {
    INFO("max_grad_norm " << options.max_grad_norm << ", weight_decay " << options.weight_decay);
    for (const Index stride : {1, 2, 3, 7}) {
      INFO("reverse runner, stride " << stride);
      ReverseRunner reverse{stride};
      check_runner_matches_serial<T>(reverse, options);
    }
    ThreadPerRangeRunner per_range;
    check_runner_matches_serial<T>(per_range, options);
    for (const int threads : {1, 2, 3, 7}) {
      INFO("Mlp runner, threads " << threads);
      metnet::Rng rng(2);
      metnet::Mlp<float> network(metnet::MlpConfig{.inputs = 2, .outputs = 1, .hidden_layers = 1, .width = 4}, rng);
      network.set_threads(threads);
      check_runner_matches_serial<T>(network, options);
    }
  }
}

// A copy of everything a step may change, to check that a rejected step
// changed nothing.
template <class T>
struct Snapshot {
  std::vector<Matrix<T>> values;
  std::vector<Matrix<T>> grads;
  metnet::AdamState<T> state;

  Snapshot(const std::vector<Parameter<T>>& parameters, const Adam<T>& adam) : state(adam.state()) {
    for (const auto& parameter : parameters) {
      values.push_back(parameter.value);
      grads.push_back(parameter.grad);
    }
  }
};

template <class T>
void check_unchanged(const Snapshot<T>& before, const std::vector<Parameter<T>>& parameters, const Adam<T>& adam) {
  CHECK(adam.step_count() == before.state.step);
  for (std::size_t k = 0; k < parameters.size(); ++k) {
    INFO("parameter " << parameters[k].name);
    CHECK(parameters[k].value.rows() == before.values[k].rows());
    CHECK(parameters[k].value.cols() == before.values[k].cols());
    CHECK(std::equal(parameters[k].value.data(), parameters[k].value.data() + parameters[k].value.size(),
                     before.values[k].data()));
    // The gradients may contain the NaN under test, which never equals
    // itself, so a NaN counts as equal to a NaN here.
    REQUIRE(parameters[k].grad.size() == before.grads[k].size());
    for (Index i = 0; i < parameters[k].grad.size(); ++i) {
      const T found = parameters[k].grad.data()[i];
      const T expected = before.grads[k].data()[i];
      if (found != expected && !(std::isnan(found) && std::isnan(expected))) {
        FAIL_CHECK("gradient " << i << " changed from " << expected << " to " << found);
        break;
      }
    }
    CHECK(adam.state().first_moment[k] == before.state.first_moment[k]);
    CHECK(adam.state().second_moment[k] == before.state.second_moment[k]);
  }
}

// A non-finite gradient in the second piece of one parameter, found on
// every runner, after one good step so that the moments are not zero.
template <class T, class Runner>
void check_non_finite_rejected(Runner& runner, T bad_value, const AdamOptions& options) {
  std::vector<Parameter<T>> parameters = make_parameters<T>(3);
  Adam<T> adam(pointers(parameters), options);
  fill_gradients(parameters, 4);
  adam.step(runner);

  fill_gradients(parameters, 5);
  parameters[5].grad(4096 + 17, 0) = bad_value;  // the 8193-value parameter
  const Snapshot<T> before(parameters, adam);
  CHECK_THROWS_WITH(adam.step(runner), Catch::Contains("'p5'") && Catch::Contains("NaN or infinity"));
  check_unchanged(before, parameters, adam);
}

template <class T>
void check_non_finite_on_all_runners() {
  const T nan = std::numeric_limits<T>::quiet_NaN();
  const T inf = std::numeric_limits<T>::infinity();
  for (const T bad_value : {nan, inf, -inf}) {
    INFO("gradient value " << bad_value);
    for (const AdamOptions& options : option_sets()) {
      ReverseRunner reverse;
      check_non_finite_rejected<T>(reverse, bad_value, options);
      ThreadPerRangeRunner per_range;
      check_non_finite_rejected<T>(per_range, bad_value, options);
      metnet::Rng rng(2);
      metnet::Mlp<float> network(metnet::MlpConfig{.inputs = 2, .outputs = 1, .hidden_layers = 1, .width = 4}, rng);
      network.set_threads(3);
      check_non_finite_rejected<T>(network, bad_value, options);
    }
  }
}

}  // namespace

TEST_CASE("Adam step on any runner equals serial", "[optim][adam][threads]") {
  SECTION("double") { check_all_runners<double>(); }
  SECTION("float") { check_all_runners<float>(); }
}

TEST_CASE("Adam step on runners rejects non-finite gradients", "[optim][adam][threads]") {
  SECTION("double") { check_non_finite_on_all_runners<double>(); }
  SECTION("float") { check_non_finite_on_all_runners<float>(); }
}

TEST_CASE("Adam step names the first non-finite gradient", "[optim][adam][threads]") {
  // Bad gradients in p2 and p5: the reverse runner reaches p5 first, but the
  // message must name p2, as gradient_norm does on one thread.
  std::vector<Parameter<float>> parameters = make_parameters<float>(12);
  fill_gradients(parameters, 13);
  parameters[2].grad(4094, 0) = std::numeric_limits<float>::infinity();
  parameters[5].grad(0, 0) = std::numeric_limits<float>::quiet_NaN();
  CHECK_THROWS_WITH(metnet::gradient_norm(pointers(parameters)), Catch::Contains("'p2'"));
  Adam<float> adam(pointers(parameters));
  ReverseRunner reverse{1};
  CHECK_THROWS_WITH(adam.step(reverse), Catch::Contains("'p2'"));
  CHECK(adam.step_count() == 0);
}

TEST_CASE("Adam step keeps the norm of finite huge gradients", "[optim][adam][threads]") {
  // Squares of 1e200 overflow double, so the norm is infinite while every
  // gradient is finite: the step must not throw, and clipping to a finite
  // maximum then scales the gradients to zero, as clip_grad_norm does.
  std::vector<Parameter<double>> parameters = make_parameters<double>(7);
  std::vector<Parameter<double>> reference = make_parameters<double>(7);
  for (auto* list : {&parameters, &reference}) {
    fill_gradients(*list, 8);
    (*list)[3].grad(0, 0) = 1e200;
  }
  Adam<double> adam(pointers(parameters), AdamOptions{.max_grad_norm = 1.0});
  ReverseRunner reverse;
  const double norm = adam.step(reverse);
  CHECK(std::isinf(norm));
  const double reference_norm = metnet::clip_grad_norm(pointers(reference), 1.0);
  CHECK(std::isinf(reference_norm));
  for (std::size_t k = 0; k < parameters.size(); ++k) {
    INFO("parameter " << parameters[k].name);
    CHECK(parameters[k].grad == reference[k].grad);
    CHECK(parameters[k].grad.isZero(0.0));
  }
}

TEST_CASE("Adam on runners rejects a changed shape", "[optim][adam][threads]") {
  metnet::Rng rng(2);
  metnet::Mlp<float> network(metnet::MlpConfig{.inputs = 2, .outputs = 1, .hidden_layers = 1, .width = 4}, rng);
  network.set_threads(2);
  for (const Index new_rows : {Index(8194), Index(4096), Index(1)}) {
    INFO("new rows " << new_rows);
    std::vector<Parameter<float>> parameters = make_parameters<float>(9);
    Adam<float> adam(pointers(parameters));
    fill_gradients(parameters, 10);
    adam.step(network);

    // p4 had 4097 values, over two pieces.
    parameters[4].value = Matrix<float>::Constant(new_rows, 1, 0.5F);
    parameters[4].grad = Matrix<float>::Constant(new_rows, 1, 0.25F);
    const Snapshot<float> before(parameters, adam);
    CHECK_THROWS_WITH(adam.step(network), Catch::Contains("'p4'") && Catch::Contains("create the optimiser after"));
    check_unchanged(before, parameters, adam);
    // zero_grad runs over the same pieces, so it must reject the shape too
    // instead of clearing part of the gradient or writing past its end.
    CHECK_THROWS_WITH(adam.zero_grad(network), Catch::Contains("Adam::zero_grad: parameter 'p4'") &&
                                                   Catch::Contains("create the optimiser after"));
    check_unchanged(before, parameters, adam);
    CHECK_THROWS_AS(adam.zero_grad(), metnet::ShapeError);
    check_unchanged(before, parameters, adam);
  }
}

TEST_CASE("Adam zero_grad on runners sizes empty gradients", "[optim][adam][threads]") {
  metnet::Rng rng(2);
  metnet::Mlp<double> network(metnet::MlpConfig{.inputs = 2, .outputs = 1, .hidden_layers = 1, .width = 4}, rng);
  for (const int threads : {1, 2, 3, 7}) {
    INFO("threads " << threads);
    network.set_threads(threads);
    std::vector<Parameter<double>> parameters = make_parameters<double>(11);
    // Gradients never sized, and one sized to a stale shape.
    parameters[2].grad = Matrix<double>::Constant(2, 2, 9.0);
    Adam<double> adam(pointers(parameters));
    adam.zero_grad(network);
    for (const auto& parameter : parameters) {
      INFO("parameter " << parameter.name);
      CHECK(parameter.grad.rows() == parameter.value.rows());
      CHECK(parameter.grad.cols() == parameter.value.cols());
      CHECK(parameter.grad.isZero(0.0));
    }
    // A step from zero gradients leaves the values as they were.
    const std::vector<Parameter<double>> initial = make_parameters<double>(11);
    adam.step(network);
    for (std::size_t k = 0; k < parameters.size(); ++k) {
      CHECK(parameters[k].value == initial[k].value);
    }
  }
}
