// The global event stream for one subscriber, from any position: catch-up
// and live are one code path — read the log from the next position up to
// its durable end whenever woken — so there is no gap, no repeat, and a
// subscriber that falls behind costs reads of the log, not memory.
#pragma once

#include "log/store.h"

#include <cstdint>
#include <functional>
#include <string>

namespace sluice::engine {

/// Not thread-safe: owned by one subscriber.
class event_feed {
 public:
  /// Events from position `from` (1 = the beginning); with a non-empty
  /// `aggregate_type`, only that type's events.
  event_feed(const log::store& log, uint64_t from, std::string aggregate_type = {})
      : log_(&log), next_(std::max<uint64_t>(from, 1)), type_(std::move(aggregate_type)) {}

  /// Visits up to `max` durable events after the last one visited; returns
  /// how many positions it moved past (filtered events count too).
  std::expected<size_t, log::error> read(size_t max, const std::function<void(const log::record&)>& visit);

  /// True while durable events lie ahead.
  bool behind() const { return next_ <= log_->last_position(); }
  uint64_t next_position() const { return next_; }

 private:
  const log::store* log_; // a pointer, so that feeds can be moved around
  uint64_t next_;
  std::string type_;
};

} // namespace sluice::engine
