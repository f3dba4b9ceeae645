// Recovery's replay of the log, free of actors: every record rebuilds its
// aggregate's state, is indexed for histories and reaches the views in
// batches. The runtime hands the rebuilt aggregates to its router.
#pragma once

#include "base/string_hash.h"
#include "domain/aggregate.h"
#include "domain/registry.h"
#include "engine/aggregate_index.h"
#include "log/event_log.h"
#include "views/event_batch.h"

#include <atomic>
#include <expected>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>

namespace sluice::engine {

/// Aggregates rebuilt from the log, by type and id.
using rebuilt_aggregates =
    std::unordered_map<const domain::aggregate_type*, string_map<std::unique_ptr<domain::aggregate>>>;

struct replay_report {
  uint64_t events = 0;
  size_t aggregates = 0;
};

struct replay_sinks {
  rebuilt_aggregates& aggregates;
  history_index& index;
  /// Called with each full batch of events, and the last partial one.
  std::function<void(std::shared_ptr<views::event_batch>)> publish;
  size_t batch_events = 4096;
};

/// Replays every durable record of `log` into `sinks`. Stops early, with
/// an error, when `stop` becomes true. The error names the position of a
/// record that is of an unknown type or does not apply to its aggregate,
/// or says why the log could not be read. Runs on the calling thread.
std::expected<replay_report, std::string> replay(const log::event_log& log, const domain::registry& types,
                                                 replay_sinks sinks, const std::atomic<bool>& stop);

} // namespace sluice::engine
