// SPDX-License-Identifier: MIT
#pragma once
// A fixed team of threads for the training graph: run(body) calls body(part)
// once for every part in [0, threads()), part 0 in the calling thread, and
// returns when all parts have returned.
//
// Idle workers sleep on a condition variable and the caller waits on another
// one, so no thread spins: on a machine whose cores are busy with other work
// a waiting thread gives its core away. Starting a run allocates nothing.
// Bodies must not throw (a throwing worker ends the program through
// std::terminate) and must not call run on the same pool.

#include <algorithm>
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
    for (int part = 1; part < threads; ++part) {
      workers_.emplace_back([this, part] { work(part); });
    }
  }

  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  ~ThreadPool() {
    {
      const std::lock_guard<std::mutex> lock(mutex_);
      stop_ = true;
    }
    start_.notify_all();
    for (auto& worker : workers_) {
      worker.join();
    }
  }

  int threads() const noexcept { return static_cast<int>(workers_.size()) + 1; }

  template <class Body>
  void run(const Body& body) {
    run_erased([](const void* context, int part) { (*static_cast<const Body*>(context))(part); }, &body);
  }

  // Splits [0, count) into threads() contiguous ranges whose boundaries are
  // multiples of grain, and calls body(begin, end) for each non-empty one.
  template <class Body>
  void for_ranges(Index count, Index grain, const Body& body) {
    const Index parts = threads();
    if (parts == 1 || count <= grain) {
      if (count > 0) {
        body(Index(0), count);
      }
      return;
    }
    const Index share = round_up_to((count + parts - 1) / parts, grain);
    run([&](int part) {
      const Index begin = std::min<Index>(count, part * share);
      const Index end = std::min<Index>(count, begin + share);
      if (begin < end) {
        body(begin, end);
      }
    });
  }

 private:
  using Task = void (*)(const void*, int);

  static Index round_up_to(Index n, Index multiple) noexcept {
    return multiple <= 1 ? n : (n + multiple - 1) / multiple * multiple;
  }

  void run_erased(Task task, const void* context) {
    if (workers_.empty()) {
      task(context, 0);
      return;
    }
    {
      const std::lock_guard<std::mutex> lock(mutex_);
      task_ = task;
      context_ = context;
      pending_ = workers_.size();
      ++generation_;
    }
    start_.notify_all();
    task(context, 0);
    std::unique_lock<std::mutex> lock(mutex_);
    done_.wait(lock, [this] { return pending_ == 0; });
  }

  void work(int part) {
    std::uint64_t seen = 0;
    std::unique_lock<std::mutex> lock(mutex_);
    while (true) {
      start_.wait(lock, [&] { return stop_ || generation_ != seen; });
      if (stop_) {
        return;
      }
      seen = generation_;
      const Task task = task_;
      const void* context = context_;
      lock.unlock();
      task(context, part);
      lock.lock();
      if (--pending_ == 0) {
        done_.notify_one();
      }
    }
  }

  std::mutex mutex_;
  std::condition_variable start_;
  std::condition_variable done_;
  Task task_ = nullptr;
  const void* context_ = nullptr;
  std::size_t pending_ = 0;
  std::uint64_t generation_ = 0;
  bool stop_ = false;
  std::vector<std::thread> workers_;
};

}  // namespace metnet::detail
