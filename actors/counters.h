// Counters shared by the runtime's actors and threads; relaxed atomics.
#pragma once

#include "base/duration_histogram.h"

#include <atomic>
#include <cstdint>

namespace sluice::actors {

struct counters {
  std::atomic<uint64_t> ok{0}, rejected{0}, conflict{0}, duplicate{0}, overloaded{0}, invalid{0};
  std::atomic<uint64_t> aggregates_live{0};
  std::atomic<int64_t> in_flight{0};
  duration_histogram command_duration;  ///< submit → answer

  void add(std::atomic<uint64_t>& c) { c.fetch_add(1, std::memory_order_relaxed); }
};

} // namespace sluice::actors
