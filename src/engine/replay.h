// Recovery's replay of the log, free of actors: every record is indexed
// (aggregate histories; what re-activates an aggregate) and reaches the
// views in batches. Aggregates themselves are rebuilt when first needed.
#pragma once

#include "base/string_hash.h"
#include "domain/aggregate.h"
#include "domain/registry.h"
#include "engine/aggregate_index.h"
#include "log/store.h"
#include "views/event_batch.h"

#include <atomic>
#include <expected>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>

namespace sluice::engine {

struct replay_report {
  uint64_t events = 0;
  uint64_t next = 0; ///< the position after the last record replayed
};

struct replay_sinks {
  history_index& index;
  /// Called with each full batch of events, and the last partial one.
  std::function<void(std::shared_ptr<views::event_batch>)> publish;
  size_t batch_events = 4096;
  uint64_t from = 1;       ///< the first position read (what checkpoints leave to replay)
  uint64_t indexed_to = 0; ///< the index holds every position up to here already
};

/// Replays every durable record of `log` from `sinks.from` on into `sinks`. Stops early, with
/// an error, when `stop` becomes true. The error names the position of a
/// record that is of an unknown event type, or says why the log could not
/// be read. Runs on the calling thread.
std::expected<replay_report, std::string> replay(const log::store& log, const domain::registry& types,
                                                 replay_sinks sinks, const std::atomic<bool>& stop);

} // namespace sluice::engine
