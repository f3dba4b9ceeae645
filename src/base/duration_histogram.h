// A Prometheus histogram of durations: fixed bucket bounds from 50 µs to
// 10 s, relaxed atomic counts, so observe() is a few instructions from any
// thread and /metrics reads it without stopping anyone.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>

namespace sluice {

class duration_histogram {
 public:
  /// Upper bounds in nanoseconds; a last bucket (+Inf) takes the rest.
  static constexpr std::array<uint64_t, 17> k_bounds_ns = {
      50'000,     100'000,     250'000,     500'000,     1'000'000,     2'500'000,
      5'000'000,  10'000'000,  25'000'000,  50'000'000,  100'000'000,   250'000'000,
      500'000'000, 1'000'000'000, 2'500'000'000, 5'000'000'000, 10'000'000'000};

  struct counts {
    std::array<uint64_t, k_bounds_ns.size() + 1> buckets{};  // not cumulative; last is +Inf
    uint64_t count = 0;
    uint64_t sum_ns = 0;
  };

  void observe(uint64_t ns) {
    size_t i = 0;
    while (i < k_bounds_ns.size() && ns > k_bounds_ns[i])
      ++i;
    buckets_[i].fetch_add(1, std::memory_order_relaxed);
    sum_ns_.fetch_add(ns, std::memory_order_relaxed);
  }

  counts read() const {
    counts c;
    for (size_t i = 0; i < c.buckets.size(); ++i) {
      c.buckets[i] = buckets_[i].load(std::memory_order_relaxed);
      c.count += c.buckets[i];
    }
    c.sum_ns = sum_ns_.load(std::memory_order_relaxed);
    return c;
  }

 private:
  std::array<std::atomic<uint64_t>, k_bounds_ns.size() + 1> buckets_{};
  std::atomic<uint64_t> sum_ns_{0};
};

} // namespace sluice
