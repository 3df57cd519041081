// SPDX-License-Identifier: MIT
// One trained model predicting from 8 threads at once gives the same bits
// as one thread: predict_event with a workspace per thread and with the
// thread_local workspace, predict on batches, and
// InferenceMlp::predict_parallel. The results are compared after the
// threads have joined, because Catch2 assertions are not thread-safe.
// `bash scripts/test.sh --tsan` runs these tests under ThreadSanitizer,
// which reports any data race on the shared model.

#include <atomic>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include "metnet/metnet.hpp"
#include "small_model.hpp"

namespace {

using metnet::Index;
using metnet::Matrix;

constexpr int thread_count = 8;

const metnet::MetNet<metnet::Huber>& shared_model() {
  static const auto model = metnet::test::train_small<metnet::Huber>(metnet::test::small_ttbar());
  return model;
}

const metnet::EventTable& test_events() {
  static const metnet::EventTable events = metnet::simulate(metnet::Process::ttbar, 300, metnet::SimulationConfig{}, 42);
  return events;
}

// Runs body(thread index) on thread_count threads started together.
template <class Body>
void run_on_threads(Body body) {
  std::atomic<int> ready{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < thread_count; ++t) {
    threads.emplace_back([&, t] {
      ready.fetch_add(1);
      while (ready.load() < thread_count) {
        std::this_thread::yield();
      }
      body(t);
    });
  }
  for (auto& thread : threads) {
    thread.join();
  }
}

}  // namespace

TEST_CASE("predict_event is identical on 8 threads", "[hardening][threads]") {
  const auto& model = shared_model();
  const Matrix<float> rows = metnet::test::event_rows(model, test_events());
  std::vector<float> expected_px(static_cast<std::size_t>(rows.rows()));
  std::vector<float> expected_py(expected_px.size());
  {
    auto workspace = model.make_workspace();
    for (Index i = 0; i < rows.rows(); ++i) {
      const auto event = model.predict_event(metnet::test::row_span(rows, i), workspace);
      expected_px[static_cast<std::size_t>(i)] = event.px;
      expected_py[static_cast<std::size_t>(i)] = event.py;
    }
  }

  std::vector<int> own_workspace_mismatches(thread_count, 0);
  std::vector<int> thread_local_mismatches(thread_count, 0);
  run_on_threads([&](int t) {
    auto workspace = model.make_workspace();
    for (Index i = 0; i < rows.rows(); ++i) {
      const auto k = static_cast<std::size_t>(i);
      const auto own = model.predict_event(metnet::test::row_span(rows, i), workspace);
      const auto cached = model.predict_event(metnet::test::row_span(rows, i));
      own_workspace_mismatches[static_cast<std::size_t>(t)] += own.px != expected_px[k] || own.py != expected_py[k];
      thread_local_mismatches[static_cast<std::size_t>(t)] += cached.px != expected_px[k] || cached.py != expected_py[k];
    }
  });
  for (int t = 0; t < thread_count; ++t) {
    INFO("thread " << t);
    CHECK(own_workspace_mismatches[static_cast<std::size_t>(t)] == 0);
    CHECK(thread_local_mismatches[static_cast<std::size_t>(t)] == 0);
  }
}

TEST_CASE("batch predict is identical on 8 threads", "[hardening][threads]") {
  const auto& model = shared_model();
  const auto expected = model.predict(test_events(), 1);
  std::vector<int> serial_mismatches(thread_count, 0);
  std::vector<int> parallel_mismatches(thread_count, 0);
  run_on_threads([&](int t) {
    const auto serial = model.predict(test_events(), 1);
    const auto parallel = model.predict(test_events(), 3);
    serial_mismatches[static_cast<std::size_t>(t)] = (serial.px.array() != expected.px.array()).count() +
                                                     (serial.py.array() != expected.py.array()).count();
    parallel_mismatches[static_cast<std::size_t>(t)] = (parallel.px.array() != expected.px.array()).count() +
                                                       (parallel.py.array() != expected.py.array()).count();
  });
  for (int t = 0; t < thread_count; ++t) {
    INFO("thread " << t);
    CHECK(serial_mismatches[static_cast<std::size_t>(t)] == 0);
    CHECK(parallel_mismatches[static_cast<std::size_t>(t)] == 0);
  }
}

TEST_CASE("InferenceMlp predict_parallel matches one thread", "[hardening][threads]") {
  const metnet::InferenceMlp<float> network(shared_model().document().network);
  Matrix<float> input = Matrix<float>::Random(1000, network.inputs());
  Matrix<float> expected(input.rows(), network.outputs());
  auto workspace = network.make_workspace();
  network.predict(input, expected, workspace);

  Matrix<float> parallel(input.rows(), network.outputs());
  network.predict_parallel(input, parallel, thread_count);
  CHECK((parallel.array() == expected.array()).all());

  // Several callers of predict_parallel at once share only the immutable network.
  std::vector<Matrix<float>> outputs(thread_count, Matrix<float>(input.rows(), network.outputs()));
  run_on_threads([&](int t) { network.predict_parallel(input, outputs[static_cast<std::size_t>(t)], 2); });
  for (int t = 0; t < thread_count; ++t) {
    INFO("thread " << t);
    CHECK((outputs[static_cast<std::size_t>(t)].array() == expected.array()).all());
  }
}
