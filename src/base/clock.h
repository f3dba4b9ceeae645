// Wall-clock time as the event log stores it.
#pragma once

#include <chrono>
#include <cstdint>

namespace sluice {

/// Microseconds since the Unix epoch (UTC).
inline int64_t now_us() noexcept {
  using namespace std::chrono;
  return duration_cast<microseconds>(system_clock::now().time_since_epoch()).count();
}

} // namespace sluice
