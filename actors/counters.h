// Counters shared by the runtime's actors and threads; relaxed atomics but
// for the in-flight count, whose drain to zero a stopping runtime awaits.
#pragma once

#include "base/duration_histogram.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>

namespace sluice::actors {

struct counters {
  std::atomic<uint64_t> ok{0}, rejected{0}, conflict{0}, duplicate{0}, overloaded{0}, invalid{0};
  std::atomic<uint64_t> aggregates_live{0};
  std::atomic<uint64_t> activations{0}, passivations{0}, snapshots_rejected{0};
  std::atomic<int64_t> in_flight{0};
  duration_histogram command_duration; ///< submit → answer

  void add(std::atomic<uint64_t>& c) { c.fetch_add(1, std::memory_order_relaxed); }

  /// Commands answered so far, of every result.
  uint64_t answered() const {
    auto r = [](const std::atomic<uint64_t>& c) { return c.load(std::memory_order_relaxed); };
    return r(ok) + r(rejected) + r(conflict) + r(duplicate) + r(overloaded) + r(invalid);
  }

  /// `n` commands in flight were answered. Any thread.
  void finish(int64_t n = 1) {
    // Sequentially consistent with wait_idle(): either it sees the count
    // reach zero, or this sees it waiting and wakes it.
    if (in_flight.fetch_sub(n) == n && idle_waiters_.load() > 0) {
      std::lock_guard lk(idle_mu_);
      idle_cv_.notify_all();
    }
  }

  /// Waits until no command is in flight, up to `timeout`; true if none is.
  bool wait_idle(std::chrono::milliseconds timeout) {
    std::unique_lock lk(idle_mu_);
    idle_waiters_.fetch_add(1);
    bool idle = idle_cv_.wait_for(lk, timeout, [&] { return in_flight.load() <= 0; });
    idle_waiters_.fetch_sub(1);
    return idle;
  }

 private:
  std::atomic<int> idle_waiters_{0};
  std::mutex idle_mu_;
  std::condition_variable idle_cv_;
};

} // namespace sluice::actors
