// SPDX-License-Identifier: MIT
// The thread team behind Mlp::set_threads. Every call must cover its range
// once, with boundaries at multiples of the grain, and return only after
// every body has returned, whether the workers are polling, asleep or still
// starting. A pool must be safe to destroy in each of those states, and
// training must give the same bits on any thread count. The pauses below
// only steer the workers into the sleeping state, and no check depends on
// how long anything takes.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include "../support/random_matrix.hpp"

#include "metnet/autodiff/detail/thread_pool.hpp"
#include "metnet/core/random.hpp"
#include "metnet/loss/huber.hpp"
#include "metnet/nn/mlp.hpp"
#include "metnet/optim/adam.hpp"

namespace {

using metnet::test::normal_matrix;

using metnet::Index;
using metnet::Matrix;
using metnet::detail::ThreadPool;

// Longer than the 100 us that an idle worker polls before it sleeps.
constexpr std::chrono::microseconds past_polling{400};

// Calls for_ranges once and checks that the ranges cover [0, count) once
// each, start at multiples of grain and end at one or at count.
void check_cover(ThreadPool& pool, Index count, Index grain) {
  std::vector<std::atomic<int>> hits(static_cast<std::size_t>(count));
  std::atomic<int> misaligned{0};
  pool.for_ranges(count, grain, [&](Index begin, Index end) {
    if (begin % grain != 0 || (end != count && end % grain != 0) || begin >= end) {
      misaligned.fetch_add(1);
    }
    for (Index i = begin; i < end; ++i) {
      hits[static_cast<std::size_t>(i)].fetch_add(1);
    }
  });
  CHECK(misaligned.load() == 0);
  Index wrong = 0;
  for (const auto& hit : hits) {
    wrong += hit.load() == 1 ? 0 : 1;
  }
  CHECK(wrong == 0);
}

// Runs `calls` back-to-back calls of 16 one-value ranges and returns how
// many calls returned before all their bodies had run.
int count_early_returns(ThreadPool& pool, int calls, bool pause_between) {
  std::atomic<std::int64_t> total{0};
  int early = 0;
  for (int call = 0; call < calls; ++call) {
    pool.for_ranges(16, 1, [&](Index begin, Index end) { total.fetch_add(end - begin); });
    if (total.load() != 16 * static_cast<std::int64_t>(call + 1)) {
      ++early;
      total.store(16 * static_cast<std::int64_t>(call + 1));
    }
    if (pause_between) {
      std::this_thread::sleep_for(past_polling);
    }
  }
  return early;
}

// Five steps of training with Adam on the network's own threads, with
// clipping and decoupled decay, and returns the parameters.
std::vector<Matrix<float>> train_on_threads(int threads) {
  metnet::MlpConfig config;
  config.inputs = 13;
  config.width = 70;
  config.hidden_layers = 2;
  config.outputs = 2;
  metnet::Rng rng(21);
  metnet::Mlp<float> network(config, rng);
  network.set_threads(threads);
  metnet::Adam<float> adam(network.parameters(),
                           metnet::AdamOptions{.lr = 1e-2,
                                               .weight_decay = 0.05,
                                               .decay_mode = metnet::WeightDecay::decoupled,
                                               .max_grad_norm = 0.5});
  for (int step = 0; step < 5; ++step) {
    const Index rows = step % 2 == 0 ? 67 : 130;
    adam.zero_grad(network);
    network.forward_backward(normal_matrix<float>(rows, config.inputs, 40 + static_cast<std::uint64_t>(step)),
                             normal_matrix<float>(rows, config.outputs, 50 + static_cast<std::uint64_t>(step)),
                             metnet::Vector<float>(), metnet::Huber{});
    adam.step(network);
  }
  std::vector<Matrix<float>> values;
  for (const auto* parameter : network.parameters()) {
    values.push_back(parameter->value);
  }
  return values;
}

}  // namespace

TEST_CASE("ThreadPool covers each range once", "[nn][threads]") {
  for (const int threads : {1, 2, 3, 4, 7}) {
    ThreadPool pool(threads);
    CHECK(pool.threads() == threads);
    for (const Index grain : {Index(1), Index(3), Index(64)}) {
      for (const Index count : {Index(0), Index(1), grain - 1, grain, grain + 1, Index(1000), Index(4097)}) {
        INFO("threads " << threads << ", grain " << grain << ", count " << count);
        check_cover(pool, count, grain);
      }
    }
  }
}

TEST_CASE("ThreadPool returns after every body", "[nn][threads]") {
  for (const int threads : {2, 3, 7}) {
    INFO("threads " << threads);
    ThreadPool pool(threads);
    // Back to back, so the workers poll between calls.
    CHECK(count_early_returns(pool, threads == 7 ? 3000 : 10000, false) == 0);
    // With pauses, so the workers go to sleep and each call must wake them.
    CHECK(count_early_returns(pool, 100, true) == 0);
  }
}

TEST_CASE("ThreadPool results reach the caller", "[nn][threads]") {
  // Plain (non-atomic) writes by the bodies must be visible after the call.
  ThreadPool pool(3);
  std::vector<std::int64_t> values(4096);
  Index wrong = 0;
  for (std::int64_t round = 1; round <= 300; ++round) {
    pool.for_ranges(static_cast<Index>(values.size()), 8, [&](Index begin, Index end) {
      for (Index i = begin; i < end; ++i) {
        values[static_cast<std::size_t>(i)] = round * i;
      }
    });
    for (Index i = 0; i < static_cast<Index>(values.size()); ++i) {
      wrong += values[static_cast<std::size_t>(i)] == round * i ? 0 : 1;
    }
    if (round % 50 == 0) {
      std::this_thread::sleep_for(past_polling);
    }
  }
  CHECK(wrong == 0);
}

TEST_CASE("ThreadPool destruction in any state", "[nn][threads]") {
  std::atomic<std::int64_t> total{0};
  std::int64_t expected = 0;
  for (int round = 0; round < 150; ++round) {
    const int threads = 2 + round % 3;
    // Destroyed while the workers may still be starting.
    { ThreadPool pool(threads); }
    // Destroyed right after a call, while the workers poll.
    {
      ThreadPool pool(threads);
      pool.for_ranges(8, 1, [&](Index begin, Index end) { total.fetch_add(end - begin); });
      expected += 8;
    }
    // Destroyed after the workers have gone to sleep.
    if (round % 10 == 0) {
      ThreadPool pool(threads);
      pool.for_ranges(8, 1, [&](Index begin, Index end) { total.fetch_add(end - begin); });
      expected += 8;
      std::this_thread::sleep_for(past_polling);
    }
  }
  CHECK(total.load() == expected);
}

TEST_CASE("Mlp Adam training equal on 1-7 threads", "[nn][threads]") {
  const std::vector<Matrix<float>> one_thread = train_on_threads(1);
  for (const int threads : {2, 3, 4, 7}) {
    INFO("threads " << threads);
    const std::vector<Matrix<float>> values = train_on_threads(threads);
    REQUIRE(values.size() == one_thread.size());
    for (std::size_t k = 0; k < values.size(); ++k) {
      INFO("parameter " << k);
      CHECK(values[k] == one_thread[k]);
    }
  }
}
