// A single-threaded command processor over the event log, for the command
// line tools: rebuilds every aggregate from the log, then decides commands
// and appends their events, one group commit per chunk of input.
#pragma once

#include "domain/aggregate.h"
#include "domain/command_decoder.h"
#include "domain/registry.h"
#include "engine/errc.h"
#include "log/store.h"

#include <expected>
#include <iosfwd>
#include <map>
#include <memory>
#include <string>

namespace sluice::app {

class offline_engine {
 public:
  /// Replays `log` into aggregates. Fails with engine::errc::replay if a
  /// record does not fit (an unknown event type or a version gap: the log
  /// is not this build's), engine::errc::log_open if it cannot be read.
  static std::expected<std::unique_ptr<offline_engine>, engine::error> open(log::store& log,
                                                                            const domain::registry& types);

  /// Reads NDJSON commands from `in` and writes one result line per
  /// non-empty input line to `out`, in order. Results of a chunk are
  /// written only after its events are durable. Returns false if the log
  /// failed (the process should exit: state is ahead of the log).
  bool run(std::istream& in, std::ostream& out, size_t chunk_lines = 4096);

  size_t aggregates() const { return aggregates_.size(); }

 private:
  offline_engine(log::store& log, const domain::registry& types) : log_(log), decoder_(types) {}
  domain::aggregate& find_or_create(const domain::aggregate_type& type, std::string_view id);

  log::store& log_;
  domain::command_decoder decoder_;
  std::map<std::string, std::unique_ptr<domain::aggregate>, std::less<>> aggregates_; // "type\0id"
};

} // namespace sluice::app
