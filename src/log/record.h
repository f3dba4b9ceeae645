// One event as the log stores it.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace sluice::log {

/// A log record's fields. As an input to append, `position` is ignored (the
/// log assigns it). As an output of reading, the views point into the
/// reader's buffer and live until the visitor returns.
struct record {
  uint64_t position = 0;
  uint64_t version = 0;  ///< per-aggregate, from 1 without gaps
  int64_t time_us = 0;   ///< microseconds since the Unix epoch
  std::string_view type; ///< "order.item_added"; the aggregate type is the part before '.'
  std::string_view aggregate_id;
  std::string_view command_id; ///< empty when the command had none
  std::string_view data;       ///< binary fields (codec/binary.h)
  uint16_t schema = 1;         ///< the schema version of `data` (SPEC §12), from 1
};

/// Rewrites a record read from the log into the form its readers expect:
/// the domain's upcasters (SPEC §12), installed with options::upcaster so
/// that every reader of the log sees current events. Thread-safe.
class record_upcaster {
 public:
  /// True after pointing `r.data` into `scratch` and raising `r.schema`;
  /// false leaves `r` as it was read (current already, or unknown).
  virtual bool upcast(record& r, std::string& scratch) const = 0;

 protected:
  ~record_upcaster() = default;
};

} // namespace sluice::log
