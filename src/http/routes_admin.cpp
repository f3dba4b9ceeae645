// /v1/admin/views…: the state of every view version, and the operator's
// actions on a view: rebuild it, list, replay or skip its parked errors.
// /v1/admin/cluster: the cluster as this node sees it (SPEC §14).
#include "http/route_handlers.h"

#include "codec/json_writer.h"

#include <fmt/format.h>
#include <simdjson.h>

#include <memory>

namespace sluice::http::handlers {

namespace {

// The "key" of an admin body ({} or {"key":K}); nullopt (answered 400) if
// the body is not such an object.
std::optional<std::string> body_key(request& rq, bool required) {
  simdjson::dom::parser p;
  simdjson::dom::object o;
  std::string_view body = rq.body;
  if (body.find_first_not_of(" \t\r\n") == std::string_view::npos)
    body = "{}";
  if (p.parse(body.data(), body.size()).get(o)) {
    rq.respond(error_reply(400, "bad_request", "the body must be a JSON object"));
    return std::nullopt;
  }
  std::string_view key;
  auto k = o["key"];
  if (k.error() == simdjson::NO_SUCH_FIELD) {
    if (required)
      rq.respond(error_reply(400, "bad_request", "key is required"));
    return required ? std::nullopt : std::optional<std::string>("");
  }
  if (k.get(key) || key.empty()) {
    rq.respond(error_reply(400, "bad_request", "key must be a non-empty string"));
    return std::nullopt;
  }
  return std::string(key);
}

} // namespace

// GET /v1/admin/views's array, also in /v1/admin/status.
void write_view_statuses(codec::json_writer& w, const std::vector<engine::view_status>& statuses) {
  w.begin_array();
  for (auto& s : statuses) {
    w.begin_object().key("view").string(s.view).key("version").uinteger(s.version).key("state").string(s.state);
    w.key("position").uinteger(s.position).key("lag").uinteger(s.lag).key("parked").uinteger(s.parked);
    w.key("build");
    if (s.build) {
      w.begin_object().key("position").uinteger(s.build->position).key("target").uinteger(s.build->target);
      w.key("events_per_second").uinteger(static_cast<uint64_t>(s.build->events_per_second)).end_object();
    } else {
      w.null();
    }
    w.end_object();
  }
  w.end_array();
}

// GET /v1/admin/cluster
void get_admin_cluster(request& rq) {
  auto c = rq.engine.cluster();
  if (!c)
    return rq.respond(error_reply(404, "not_found", "this node runs alone on its local log (no --cluster)"));
  std::string body;
  codec::json_writer w(body);
  w.begin_object().key("node").string(c->node).key("role").string(c->role);
  w.key("partition_count").uinteger(c->partition_count);
  w.key("stream").begin_object().key("first_position").uinteger(c->first_position);
  w.key("last_position").uinteger(c->last_position).key("replicas").uinteger(static_cast<uint64_t>(c->replicas));
  w.key("leader").string(c->stream_leader).end_object();
  w.key("nodes").begin_array();
  for (auto& n : c->nodes) {
    w.begin_object().key("node").string(n.node).key("role").string(n.role).key("partitions").uinteger(n.partitions);
    w.key("last_seen_ms").uinteger(n.last_seen_ms).end_object();
  }
  w.end_array().key("partitions").begin_array();
  for (auto& p : c->partitions) {
    w.begin_object().key("partition").uinteger(p.partition).key("owner");
    if (p.owner.empty())
      w.null();
    else
      w.string(p.owner);
    w.key("lease_age_ms").uinteger(p.lease_age_ms).end_object();
  }
  w.end_array().end_object();
  rq.respond(json_reply(200, std::move(body)));
}

// GET /v1/admin/views: every defined version of every view (SPEC §10).
void get_admin_views(request& rq) {
  std::string body;
  codec::json_writer w(body);
  write_view_statuses(w, rq.engine.view_statuses());
  rq.respond(json_reply(200, std::move(body)));
}

// GET /v1/admin/views/{view}/errors?after=K&limit=L
void get_admin_errors(request& rq) {
  auto view = path_param(rq, 0);
  if (!view)
    return;
  auto limit = number_param(rq.q, "limit", k_default_list, 1, k_max_list, rq.respond);
  if (!limit)
    return;
  std::string after(rq.q.get("after").value_or(""));
  auto shared = std::make_shared<respond_fn>(std::move(rq.respond));
  bool known = rq.engine.view_errors(*view, after, *limit, [shared](engine::view_errors_page p) {
    std::string body;
    codec::json_writer w(body);
    w.begin_object().key("items").begin_array();
    for (auto& e : p.items) {
      w.begin_object().key("key").string(e.key).key("position").uinteger(e.position);
      w.key("event_type").string(e.event_type).key("error").string(e.error);
      w.key("first_failed_at").timestamp(e.first_failed_us).key("attempts").uinteger(e.attempts);
      w.key("parked").uinteger(e.parked).end_object();
    }
    w.end_array().key("next");
    if (p.more && !p.items.empty())
      w.string(p.items.back().key);
    else
      w.null();
    w.end_object();
    (*shared)(json_reply(200, std::move(body)));
  });
  if (!known)
    (*shared)(unknown_view(rq.engine, *view, 0));
}

void post_admin_replay(request& rq) {
  auto view = path_param(rq, 0);
  if (!view)
    return;
  auto key = body_key(rq, false);
  if (!key)
    return;
  auto shared = std::make_shared<respond_fn>(std::move(rq.respond));
  bool known = rq.engine.replay_view_errors(*view, *key, [shared](size_t replayed, size_t still) {
    (*shared)(json_reply(200, fmt::format(R"({{"replayed":{},"still_parked":{}}})", replayed, still)));
  });
  if (!known)
    (*shared)(unknown_view(rq.engine, *view, 0));
}

void post_admin_skip(request& rq) {
  auto view = path_param(rq, 0);
  if (!view)
    return;
  auto key = body_key(rq, true);
  if (!key)
    return;
  auto shared = std::make_shared<respond_fn>(std::move(rq.respond));
  bool known = rq.engine.skip_view_errors(*view, *key, [shared, k = *key](uint64_t skipped) {
    if (skipped == 0)
      return (*shared)(error_reply(404, "not_found", fmt::format("key '{}' has nothing parked", k)));
    (*shared)(json_reply(200, fmt::format(R"({{"skipped":{}}})", skipped)));
  });
  if (!known)
    (*shared)(unknown_view(rq.engine, *view, 0));
}

void post_admin_rebuild(request& rq) {
  auto view = path_param(rq, 0);
  if (!view)
    return;
  uint32_t version = 0;
  switch (rq.engine.rebuild_view(*view, version)) {
    case engine::rebuild_status::unknown_view: return rq.respond(unknown_view(rq.engine, *view, 0));
    case engine::rebuild_status::running:
      return rq.respond(error_reply(409, "rebuild_running", fmt::format("view {} is building already", *view)));
    case engine::rebuild_status::started: break;
  }
  std::string body;
  codec::json_writer w(body);
  w.begin_object().key("view").string(*view).key("version").uinteger(version).end_object();
  rq.respond(json_reply(202, std::move(body)));
}

} // namespace sluice::http::handlers
