// Durable events in position order, as they flow from the journal to the
// read side: one allocation for all their bytes, shared read-only by every
// projection shard.
#pragma once

#include "log/record.h"

#include <cstdint>
#include <string>
#include <vector>

namespace sluice::views {

/// Built by one thread, then immutable and safe to share between threads.
class event_batch {
 public:
  /// True if `r` can be added. A batch holds at most 4 GiB of bytes; any
  /// one record the log's format allows fits an empty batch.
  bool fits(const log::record& r) const {
    return bytes_.size() + r.type.size() + r.aggregate_id.size() + r.command_id.size() + r.data.size() <= UINT32_MAX;
  }

  /// Copies `r` in; positions must increase and fits(r) must hold (callers
  /// start another batch when it does not).
  void add(const log::record& r);

  size_t size() const { return entries_.size(); }
  bool empty() const { return entries_.empty(); }
  /// The i-th record; its views live as long as the batch.
  log::record operator[](size_t i) const;
  uint64_t first_position() const { return entries_.empty() ? 0 : entries_.front().position; }
  uint64_t last_position() const { return entries_.empty() ? 0 : entries_.back().position; }
  void reserve(size_t events, size_t bytes) {
    entries_.reserve(events);
    bytes_.reserve(bytes);
  }

 private:
  struct entry {
    uint64_t position, version;
    int64_t time_us;
    uint32_t offset;
    uint16_t aggregate_id_len;
    uint8_t type_len, command_id_len;
    uint32_t data_len;
    uint16_t schema;
  };
  std::string bytes_;
  std::vector<entry> entries_;
};

} // namespace sluice::views
