// SPDX-License-Identifier: MIT
#pragma once
// A fixed team of threads for the training graph. for_ranges cuts a range
// into chunks, which the calling thread and the workers take in turn from a
// shared counter. Which thread computes a chunk varies from call to call, so
// callers keep results independent of it by fixing only the chunk
// boundaries (multiples of grain) that their arithmetic depends on.
//
// A training step calls for_ranges about twice per layer and direction,
// with little work in between. So an idle worker first polls for the next
// call for up to spin_time before it sleeps on a condition variable. The
// caller likewise polls for the workers' end of a call before it sleeps. Waking a
// sleeping thread takes a system call and a wait for the scheduler, which
// is long next to a Net S layer (about 0.3 ms on two threads). The polling
// loops yield the core between checks, so that other processes still run.
// A worker that wakes after the caller has finished every chunk skips the
// call, and the caller does not wait for it. So on a machine whose cores
// are busy with other work, the caller does the chunks that a descheduled
// worker cannot. Starting a call allocates nothing.
// Bodies must not throw (a throwing worker ends the program through
// std::terminate) and must not call for_ranges on the same pool.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

#include "metnet/core/types.hpp"

namespace metnet::detail {

class ThreadPool {
 public:
  // Starts threads - 1 workers; threads must be at least 1.
  explicit ThreadPool(int threads) {
    workers_.reserve(static_cast<std::size_t>(std::max(threads, 1) - 1));
    for (int worker = 1; worker < threads; ++worker) {
      workers_.emplace_back([this] { work(); });
    }
  }

  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  ~ThreadPool() {
    {
      const std::lock_guard<std::mutex> lock(mutex_);
      stop_ = true;
      stop_requested_.store(true, std::memory_order_relaxed);
    }
    start_.notify_all();
    for (auto& worker : workers_) {
      worker.join();
    }
  }

  int threads() const noexcept { return static_cast<int>(workers_.size()) + 1; }

  // Calls body(begin, end) on ranges that cover [0, count) once, with
  // boundaries at multiples of grain, and returns when all have returned.
  // With several threads the range is cut into about chunks_per_thread
  // chunks per thread.
  template <class Body>
  void for_ranges(Index count, Index grain, const Body& body) {
    const Index parts = threads();
    if (parts == 1 || count <= grain) {
      if (count > 0) {
        body(Index(0), count);
      }
      return;
    }
    const Index chunk = round_up_to((count + parts * chunks_per_thread - 1) / (parts * chunks_per_thread), grain);
    const Index chunks = (count + chunk - 1) / chunk;
    next_chunk_.store(0, std::memory_order_relaxed);
    const auto take_chunks = [&] {
      for (Index index = next_chunk_.fetch_add(1, std::memory_order_relaxed); index < chunks;
           index = next_chunk_.fetch_add(1, std::memory_order_relaxed)) {
        const Index begin = index * chunk;
        body(begin, std::min<Index>(count, begin + chunk));
      }
    };
    run(take_chunks);
  }

 private:
  using TaskFunction = void (*)(const void*);

  static constexpr Index chunks_per_thread = 8;

  // How long a thread polls before it sleeps. An estimate: longer than the
  // gaps between the calls of one training step, shorter than a step.
  static constexpr std::chrono::microseconds spin_time{100};

  // Polls done() until it returns true or spin_time has passed, and returns
  // its last value.
  template <class Done>
  static bool spin_until(const Done& done) {
    const auto deadline = std::chrono::steady_clock::now() + spin_time;
    while (!done()) {
      for (int i = 0; i < 64; ++i) {
        pause();
      }
      if (std::chrono::steady_clock::now() > deadline) {
        return done();
      }
      // Lets another thread waiting for this core run, so that on a busy
      // machine the polling costs little.
      std::this_thread::yield();
    }
    return true;
  }

  static void pause() noexcept {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
  }

  static Index round_up_to(Index n, Index multiple) noexcept {
    return multiple <= 1 ? n : (n + multiple - 1) / multiple * multiple;
  }

  // Runs task() here and on every worker that wakes before this thread has
  // finished it, and returns when all that started it have finished.
  template <class Task>
  void run(const Task& task) {
    {
      const std::lock_guard<std::mutex> lock(mutex_);
      task_ = [](const void* context) { (*static_cast<const Task*>(context))(); };
      context_ = &task;
      open_ = true;
      generation_.fetch_add(1, std::memory_order_release);
    }
    start_.notify_all();
    task();
    // A worker that is still taking chunks ends soon after, and one that
    // has not started finds no chunk left.
    spin_until([this] { return active_.load(std::memory_order_acquire) == 0; });
    std::unique_lock<std::mutex> lock(mutex_);
    open_ = false;
    done_.wait(lock, [this] { return active_.load(std::memory_order_relaxed) == 0; });
  }

  void work() {
    std::uint64_t seen = 0;
    std::unique_lock<std::mutex> lock(mutex_);
    while (true) {
      lock.unlock();
      spin_until([&] {
        return stop_requested_.load(std::memory_order_relaxed) ||
               generation_.load(std::memory_order_relaxed) != seen;
      });
      lock.lock();
      start_.wait(lock, [&] { return stop_ || generation_.load(std::memory_order_relaxed) != seen; });
      if (stop_) {
        return;
      }
      seen = generation_.load(std::memory_order_relaxed);
      if (!open_) {
        continue;  // the caller has already finished this task
      }
      const TaskFunction task = task_;
      const void* context = context_;
      ++active_;
      lock.unlock();
      task(context);
      lock.lock();
      if (active_.fetch_sub(1, std::memory_order_release) == 1) {
        done_.notify_one();
      }
    }
  }

  std::mutex mutex_;
  std::condition_variable start_;
  std::condition_variable done_;
  TaskFunction task_ = nullptr;
  const void* context_ = nullptr;
  bool open_ = false;     // the caller has not finished the current task
  // Written under mutex_, and atomic because the polling loops read them without it.
  std::atomic<int> active_{0};  // workers running the current task
  std::atomic<std::uint64_t> generation_{0};
  std::atomic<bool> stop_requested_{false};  // stop_, for the polling loops
  std::atomic<Index> next_chunk_{0};
  bool stop_ = false;
  std::vector<std::thread> workers_;
};

}  // namespace metnet::detail
