// Records encoded by the caller, ready for one append.
#pragma once

#include "log/record.h"

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

namespace sluice::log {

/// A sequence of records in their on-disk form, encoded on the caller's
/// thread so that the log's writer only stamps positions and checksums.
/// Not thread-safe; move it into event_log::append().
class write_batch {
 public:
  /// Encodes `r` (its position is ignored). False, and nothing added, if
  /// a field is longer than the format allows (format.h).
  bool add(const record& r);

  /// What add(r) adds to bytes().
  static size_t encoded_size(const record& r);

  size_t count() const { return count_; }
  size_t bytes() const { return buf_.size(); }
  bool empty() const { return count_ == 0; }
  /// Stamps positions from `first`, the checksums and the group's commit
  /// flag, as the log writes them, and returns the records: the wire form of
  /// a group for a replicated log (cluster/jetstream_store.h), which
  /// parse_record() reads back.
  std::string_view stamp(uint64_t first);

  /// Calls `f` with each record's aggregate id, in order.
  void each_aggregate_id(const std::function<void(std::string_view)>& f) const;

  void clear() {
    buf_.clear();
    count_ = 0;
  }

 private:
  friend class event_log;
  std::string buf_;
  size_t count_ = 0;
};

} // namespace sluice::log
