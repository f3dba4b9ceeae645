// /metrics in the Prometheus text exposition format (SPEC §8 names).
#pragma once

#include "engine/engine.h"

#include <string>
#include <string_view>
#include <utility>
#include <vector>

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

/// Counts one HTTP response by its status code (100–599), for
/// sluice_http_requests_total{code}. Thread-safe, lock-free.
void count_http_response(unsigned status);

/// The counts so far, by status code (codes never written left out).
std::vector<std::pair<unsigned, uint64_t>> http_responses();

/// The build's version (CMake's project version).
std::string_view build_version();

std::string render_metrics(const engine::metrics& m, const front_metrics& f);

} // namespace sluice::http
