// GET /v1/events and /v1/aggregates/{id}/events: the event log read over
// HTTP; and /v1/stream's answer to a request that is not a WebSocket upgrade.
#include "http/route_handlers.h"

#include "codec/json_writer.h"
#include "domain/event_json.h"

#include <fmt/format.h>

#include <algorithm>

namespace sluice::http::handlers {

namespace {

constexpr uint64_t k_default_events = 1000, k_max_events = 100'000;
constexpr uint64_t k_default_history = 10'000, k_max_history = 100'000;

// One aggregate's events, in version order, as a JSON array: positions from
// the engine's index, each record read from the log.
void get_aggregate_events(request& rq, const std::string& id) {
  auto& e = rq.engine;
  auto& q = rq.q;
  auto& respond = rq.respond;
  auto from_version = number_param(q, "from_version", 1, 1, UINT64_MAX, respond);
  auto limit = from_version ? number_param(q, "limit", k_default_history, 1, k_max_history, respond) : std::nullopt;
  if (!limit)
    return;
  // Ids are per aggregate type: two aggregates may share one; their events
  // go out together, in log order.
  auto parts = e.aggregate_history(id, *from_version - 1, *limit);
  if (parts.empty())
    return respond(
        error_reply(404, "not_found", fmt::format("no aggregate with id '{}' has events", id.substr(0, 256))));
  std::vector<uint64_t> positions;
  bool truncated = false; // retention deleted some of the events asked for
  for (auto& p : parts) {
    positions.insert(positions.end(), p.positions.begin(), p.positions.end());
    truncated = truncated || *from_version <= p.dropped;
  }
  std::sort(positions.begin(), positions.end());
  if (positions.size() > *limit)
    positions.resize(*limit);
  std::string body;
  codec::json_writer w(body);
  w.begin_array();
  for (uint64_t p : positions) {
    bool found = false;
    auto r = e.log().read(p, 1, [&](const log::record& rec) {
      found = rec.position == p;
      if (found)
        domain::write_event_json(e.model().types(), rec, w);
      return false;
    });
    if (r && !found && p < e.log().first_position()) {
      truncated = true; // retention ran between the index's answer and this read
      continue;
    }
    if (!r || !found)
      return respond(
          error_reply(500, "internal", r ? fmt::format("position {} is not in the log", p) : r.error().message));
  }
  w.end_array();
  auto ok = json_reply(200, std::move(body));
  if (truncated)
    ok.headers.emplace_back("Sluice-History-Truncated", "true");
  respond(std::move(ok));
}

} // namespace

void get_events(request& rq) {
  auto& e = rq.engine;
  auto& q = rq.q;
  auto& respond = rq.respond;
  auto from = number_param(q, "from", 1, 0, UINT64_MAX, respond);
  auto limit = from ? number_param(q, "limit", k_default_events, 1, k_max_events, respond) : std::nullopt;
  if (!limit)
    return;
  // Retention deleted what is before the log's first position (SPEC §9).
  if (uint64_t first = e.log().first_position(); *from < first && first > 1) {
    std::string gone;
    codec::json_writer w(gone);
    w.begin_object().key("ok").boolean(false).key("error").begin_object().key("code").string("gone");
    w.key("message").string(fmt::format("retention deleted the events before position {}", first));
    w.key("first_position").uinteger(first).end_object().end_object();
    return respond(json_reply(410, std::move(gone)));
  }
  std::string body;
  auto r = e.log().read(*from, *limit, [&](const log::record& rec) {
    {
      codec::json_writer w(body);
      domain::write_event_json(e.model().types(), rec, w);
    }
    body.push_back('\n');
    return true;
  });
  if (!r)
    return respond(error_reply(500, "internal", r.error().message));
  respond({200, "application/x-ndjson", std::move(body), {}});
}

void get_history(request& rq) {
  if (auto id = path_param(rq, 0))
    get_aggregate_events(rq, *id);
}

void get_stream(request& rq) {
  rq.respond(error_reply(426, "upgrade_required", "/v1/stream is a WebSocket endpoint: send an upgrade"));
}

} // namespace sluice::http::handlers
