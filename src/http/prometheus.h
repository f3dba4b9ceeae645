// /metrics in the Prometheus text exposition format (SPEC §8 names).
#pragma once

#include "engine/engine.h"

#include <string>

namespace sluice::http {

/// What the front end counts itself.
struct front_metrics {
  uint64_t ws_sessions = 0;
  uint64_t ws_messages_sent = 0;
  uint64_t ws_changes_conflated = 0;
  uint64_t denied_unauthorized = 0, denied_forbidden = 0; ///< SPEC §11
};

/// The process's WebSocket counters (kept by the stream sessions).
front_metrics read_front_metrics();

std::string render_metrics(const engine::metrics& m, const front_metrics& f);

} // namespace sluice::http
