// SPDX-License-Identifier: MIT
// Replaying a recorded graph with an unchanged batch shape must not touch
// the heap.

#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <thread>

#include "allocation_counter.hpp"
#include "metnet/autodiff.hpp"
#include "test_huber.hpp"

using metnet::test::AllocationCounter;

TEST_CASE("allocation counter sees Eigen buffers", "[autodiff][allocation]") {
  std::size_t seen = 0;
  {
    AllocationCounter counter;
    metnet::Matrix<float> m(64, 64);
    m.setZero();
    seen = counter.count();
  }
  CHECK(seen >= 1);
}

namespace {

// Returns once every thread of the tape has run a piece of one call. Under
// AddressSanitizer a worker thread allocates while it starts, and on a busy
// machine it may start only after the counter is on.
void wait_for_threads(const metnet::Tape<float>& tape) {
  const int threads = tape.threads();
  std::atomic<int> started{0};
  tape.for_ranges(threads, 1, [&](metnet::Index, metnet::Index) {
    started.fetch_add(1);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (started.load() < threads && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::yield();
    }
  });
}

// Records a graph with every operation on a tape running on `threads`
// threads, replays it three times and returns the heap allocations made
// during the replays. Without intermediate gradients the nodes borrow
// their gradient buffers from the tape's pool in each pass.
std::size_t replay_allocations(int threads, bool keep_intermediate_grads = true) {
  using metnet::Matrix;
  metnet::Tape<float> tape;
  tape.set_threads(threads);
  tape.set_keep_intermediate_grads(keep_intermediate_grads);
  wait_for_threads(tape);
  metnet::Parameter<float> w1{"w1", Matrix<float>::Constant(16, 8, 0.1f), {}};
  metnet::Parameter<float> b1{"b1", Matrix<float>::Constant(1, 16, 0.01f), {}};
  metnet::Parameter<float> gamma{"gamma", Matrix<float>::Ones(1, 16), {}};
  metnet::Parameter<float> beta{"beta", Matrix<float>::Zero(1, 16), {}};
  metnet::Parameter<float> w2{"w2", Matrix<float>::Constant(2, 16, -0.2f), {}};
  metnet::Parameter<float> b2{"b2", Matrix<float>::Zero(1, 2), {}};
  for (auto* p : {&w1, &b1, &gamma, &beta, &w2, &b2}) {
    p->zero_grad();
  }

  const Matrix<float> x_value = Matrix<float>::Random(32, 8);
  const auto x = tape.input(x_value, true);
  const auto target = tape.input(Matrix<float>::Random(32, 2));
  const auto weights = tape.input(Matrix<float>::Ones(32, 1));
  auto h = tape.linear(x, tape.parameter(w1), tape.parameter(b1));
  h = tape.layer_norm(tape.silu(h), tape.parameter(gamma), tape.parameter(beta));
  h = tape.add(tape.relu(h), tape.scale(tape.tanh(h), 0.5f));
  h = tape.add_bias(tape.matmul_transposed(h, tape.parameter(w2)), tape.parameter(b2));
  const auto loss = tape.add(tape.loss(h, target, weights, metnet::test::TestHuber{}),
                             tape.scale(tape.add(tape.mean(h), tape.sum(h)), 1e-3f));
  tape.backward(loss);  // the first pass sizes the gradient buffers

  std::size_t count = 0;
  {
    AllocationCounter counter;
    for (int step = 0; step < 3; ++step) {
      tape.set_value(x, x_value);
      tape.forward();
      tape.backward(loss);
    }
    count = counter.count();
  }
  CHECK(x.grad().allFinite());
  CHECK(w1.grad.allFinite());
  return count;
}

}  // namespace

TEST_CASE("replayed graph allocates nothing", "[autodiff][allocation]") { CHECK(replay_allocations(1) == 0); }

TEST_CASE("replay on two threads allocates nothing", "[autodiff][allocation][threads]") {
  CHECK(replay_allocations(2) == 0);
}

TEST_CASE("shared-gradient replay allocates nothing", "[autodiff][allocation][shared_grads]") {
  CHECK(replay_allocations(1, false) == 0);
  CHECK(replay_allocations(2, false) == 0);
}
