// What a process manager's runner reports (SPEC §13 metrics).
#pragma once

#include <cstdint>
#include <string_view>

namespace sluice::engine {

struct process_stats {
  std::string_view name;
  uint64_t unfinished = 0;
  uint64_t accepted = 0, duplicate = 0, rejected = 0, conflict = 0;
  uint64_t retried = 0; ///< answered without a decision (overloaded, not ready, log failing): sent again
};

} // namespace sluice::engine
