#include "http/routes.h"

#include "api/command_result.h"
#include "base/closest.h"
#include "codec/json_writer.h"
#include "domain/command_decoder.h"
#include "domain/event_json.h"
#include "http/prometheus.h"

#include <fmt/format.h>
#include <simdjson.h>

#include <algorithm>
#include <chrono>
#include <atomic>
#include <memory>
#include <mutex>

namespace sluice::http {

extern const std::string_view k_dashboard_page;   // generated: cmake/embed.cmake
extern const std::string_view k_openapi_document; // docs/openapi.json, the same way

namespace {

constexpr size_t k_default_list = 100, k_max_list = 1000;
constexpr uint64_t k_default_events = 1000, k_max_events = 100'000;
constexpr uint64_t k_default_history = 10'000, k_max_history = 100'000;
constexpr uint64_t k_default_wait_ms = 1000, k_max_wait_ms = 30'000;

reply json_reply(int status, std::string body) { return {status, "application/json", std::move(body), {}}; }

reply bad_param(std::string_view name, uint64_t lo, uint64_t hi) {
  return error_reply(400, "bad_request",
                     fmt::format("query parameter {} must be an integer from {} to {}", name, lo, hi));
}

// An integer query parameter; when it is out of range, answers 400 naming it.
std::optional<uint64_t> number_param(const query& q, std::string_view name, uint64_t fallback, uint64_t lo, uint64_t hi,
                                     respond_fn& respond) {
  auto v = q.number(name, fallback, lo, hi);
  if (!v)
    respond(bad_param(name, lo, hi));
  return v;
}

// Writes the answer to a command, single or as a batch line; returns its HTTP status.
int write_command_answer(codec::json_writer& w, std::string_view aggregate_id, const engine::command_result& r,
                         bool batch_line) {
  using status = engine::command_status;
  switch (r.status) {
    case status::done:
      api::write_command_result(w, aggregate_id, r.outcome, r.position, batch_line);
      return api::http_status(r.outcome);
    case status::overloaded: api::write_error(w, 503, "overloaded", r.message, batch_line); return 503;
    case status::not_ready: api::write_error(w, 503, "not_ready", r.message, batch_line); return 503;
    case status::failed: api::write_error(w, 500, "internal", r.message, batch_line); return 500;
    case status::log_unavailable: api::write_error(w, 503, "log_unavailable", r.message, batch_line); return 503;
  }
  api::write_error(w, 500, "internal", "unknown outcome", batch_line);
  return 500;
}

// The answer to a single command.
reply command_reply(std::string_view aggregate_id, const engine::command_result& r) {
  std::string body;
  codec::json_writer w(body);
  int status = write_command_answer(w, aggregate_id, r, false);
  auto rep = json_reply(status, std::move(body));
  if (r.status == engine::command_status::overloaded)
    rep.headers.emplace_back("Retry-After", "1");
  else if (r.status == engine::command_status::log_unavailable)
    rep.headers.emplace_back("Retry-After", "5");
  return rep;
}

// One decoder per I/O thread, for the domain of the engine it serves (one
// in a server; tests may run several engines in a process).
domain::command_decoder& decoder_for(const domain::registry& types) {
  thread_local const domain::registry* of = nullptr;
  thread_local std::unique_ptr<domain::command_decoder> decoder;
  if (of != &types) {
    decoder = std::make_unique<domain::command_decoder>(types);
    of = &types;
  }
  return *decoder;
}

// Decodes `json`, which lies inside `body`: with the padding simdjson reads
// past the end available in body's buffer, the decoder parses in place
// instead of copying.
std::expected<domain::command, domain::error> decode_in(const engine::engine& e, const std::string& body,
                                                        std::string_view json) {
  size_t capacity = body.capacity() - static_cast<size_t>(json.data() - body.data());
  return decoder_for(e.model().types()).decode(json.data(), json.size(), capacity);
}

// A command whose aggregate type the caller has no grant for (SPEC §11).
bool forbidden_command(const caller& by, const domain::command& cmd) {
  if (!by.who || by.who->rights.may_command(cmd.type->name()))
    return false;
  by.auth->count(auth::denial::forbidden);
  return true;
}

std::string no_command_grant(const domain::command& cmd) {
  return fmt::format("this token may not send commands to {} aggregates", cmd.type->name());
}

void post_command(request& rq) {
  auto& body = rq.body;
  body.reserve(body.size() + domain::k_json_padding);
  auto cmd = decode_in(rq.engine, body, body);
  if (!cmd) {
    rq.engine.count_invalid(1);
    rq.respond(
        error_reply(domain::http_status(cmd.error().code), domain::to_string(cmd.error().code), cmd.error().message));
    return;
  }
  if (forbidden_command(rq.by, *cmd))
    return rq.respond(denied_reply(auth::denial::forbidden, no_command_grant(*cmd)));
  auto id = cmd->aggregate_id;
  rq.engine.submit(std::move(*cmd), [respond = std::move(rq.respond), id = std::move(id)](
                                        const engine::command_result& r) mutable { respond(command_reply(id, r)); });
}

// Every non-empty line is one command; answers come back in line order.
// Each line's outcome is kept as it arrives and the whole answer rendered
// once, by whoever delivers the last: no string per line.
void post_batch(request& rq) {
  auto& body = rq.body;
  struct line {
    short_string aggregate_id;
    engine::command_result result;
    std::string rendered; ///< a line that failed to decode: its error, already written
  };
  struct gather {
    std::vector<line> lines;
    std::atomic<size_t> pending{1}; // one extra, released after submitting
    respond_fn respond;
    void finish() {
      std::string out;
      out.reserve(lines.size() * 96);
      for (auto& ln : lines) {
        if (ln.rendered.empty()) {
          codec::json_writer w(out); // one per line: each line is a top-level value
          write_command_answer(w, ln.aggregate_id, ln.result, true);
        } else
          out += ln.rendered;
        out.push_back('\n');
      }
      respond({200, "application/x-ndjson", std::move(out), {}});
    }
  };
  auto g = std::make_shared<gather>();
  g->respond = std::move(rq.respond);
  body.reserve(body.size() + domain::k_json_padding);
  std::vector<std::string_view> inputs;
  for (std::string_view rest = body; !rest.empty();) {
    auto nl = rest.find('\n');
    auto text = rest.substr(0, nl);
    rest = nl == std::string_view::npos ? std::string_view{} : rest.substr(nl + 1);
    if (text.find_first_not_of(" \t\r") != std::string_view::npos)
      inputs.push_back(text);
  }
  if (inputs.size() > rq.lim.batch_lines) {
    g->respond(error_reply(413, "too_large", fmt::format("a batch holds at most {} commands", rq.lim.batch_lines)));
    return;
  }
  g->lines.resize(inputs.size());
  g->pending.fetch_add(inputs.size());
  uint64_t invalid = 0;
  for (size_t i = 0; i < inputs.size(); ++i) {
    auto cmd = decode_in(rq.engine, body, inputs[i]);
    if (!cmd) {
      codec::json_writer w(g->lines[i].rendered);
      api::write_error(w, domain::http_status(cmd.error().code), domain::to_string(cmd.error().code),
                       cmd.error().message, true);
      ++invalid;
      if (g->pending.fetch_sub(1) == 1)
        g->finish();
      continue;
    }
    if (forbidden_command(rq.by, *cmd)) {
      codec::json_writer w(g->lines[i].rendered);
      api::write_error(w, 403, "forbidden", no_command_grant(*cmd), true);
      if (g->pending.fetch_sub(1) == 1)
        g->finish();
      continue;
    }
    g->lines[i].aggregate_id = cmd->aggregate_id;
    // Small enough (24 bytes) for move_only_function to hold without allocating.
    rq.engine.submit(std::move(*cmd), [g, i](engine::command_result r) {
      g->lines[i].result = std::move(r);
      if (g->pending.fetch_sub(1) == 1)
        g->finish();
    });
  }
  if (invalid)
    rq.engine.count_invalid(invalid);
  if (g->pending.fetch_sub(1) == 1)
    g->finish();
}

std::optional<std::string> path_param(request& rq, size_t i);

// ?version=N (SPEC §10): a positive integer; 0 when absent (the serving one).
std::optional<uint32_t> version_param(const query& q, respond_fn& respond) {
  if (!q.get("version"))
    return 0;
  auto v = number_param(q, "version", 0, 1, UINT32_MAX, respond);
  if (!v)
    return std::nullopt;
  return static_cast<uint32_t>(*v);
}

// 404 naming what exists: the views (and the closest name), or the view's versions.
reply unknown_view(const engine::engine& e, std::string_view view, uint32_t version) {
  auto statuses = e.view_statuses();
  std::vector<std::string_view> names, versions;
  std::vector<std::string> version_text;
  for (auto& st : statuses) {
    if (names.empty() || names.back() != st.view)
      names.push_back(st.view);
    if (st.view == view)
      version_text.push_back(fmt::format("{} ({})", st.version, st.state));
  }
  if (version && !version_text.empty())
    return error_reply(
        404, "not_found",
        fmt::format("view {} has no version {}; its versions are {}", view, version, join_names(version_text)));
  auto shown = view.substr(0, 128);
  return error_reply(404, "not_found",
                     fmt::format("no view named '{}'{}; the views are {} (GET /v1/views lists them)", shown,
                                 did_you_mean(shown, names), join_names(names)));
}

// 503 view_building: the version has not caught up with the log yet.
reply building_reply(const engine::engine& e, std::string_view view, uint64_t position) {
  std::string body;
  codec::json_writer w(body);
  w.begin_object().key("ok").boolean(false).key("error").begin_object().key("code").string("view_building");
  w.key("message").string(fmt::format("view {} is still building from the log", view));
  w.key("position").uinteger(position).key("log_position").uinteger(e.log().last_position());
  w.end_object().end_object();
  auto r = json_reply(503, std::move(body));
  r.headers.emplace_back("Retry-After", "1");
  return r;
}

void get_view_key(request& rq, const std::string& view, const std::string& key) {
  auto& q = rq.q;
  auto& respond = rq.respond;
  auto version = version_param(q, respond);
  auto min = version ? number_param(q, "min_position", 0, 0, UINT64_MAX, respond) : std::nullopt;
  auto wait = min ? number_param(q, "timeout_ms", k_default_wait_ms, 0, k_max_wait_ms, respond) : std::nullopt;
  if (!wait)
    return;
  // Shared: the callback may answer, or (unknown view) this function.
  auto shared = std::make_shared<respond_fn>(std::move(respond));
  auto& e = rq.engine;
  bool known = e.read_view(
      {view, *version}, key, *min, std::chrono::milliseconds(*wait), [shared, view, key, &e](engine::view_read r) {
        auto& answer = *shared;
        using st = engine::read_status;
        if (r.status == st::building)
          return answer(building_reply(e, view, r.position));
        if (r.status == st::timeout)
          return answer(error_reply(504, "timeout",
                                    fmt::format("view {} has not reached the position yet "
                                                "(at {})",
                                                view, r.position)));
        if (r.status == st::not_found)
          return answer(error_reply(404, "not_found", fmt::format("no key '{}' in view {}", key, view)));
        std::string body;
        codec::json_writer w(body);
        w.begin_object().key("view").string(view).key("key").string(key);
        w.key("position").uinteger(r.position).key("changed_at").uinteger(r.changed_at).key("value");
        if (r.value)
          w.raw(*r.value);
        else
          w.null(); // its first event is parked
        if (r.parked > 0)
          w.key("parked").uinteger(r.parked);
        w.end_object();
        answer(json_reply(200, std::move(body)));
      });
  if (!known)
    (*shared)(unknown_view(e, view, *version));
}

void get_view_list(request& rq, const std::string& view) {
  auto& q = rq.q;
  auto& respond = rq.respond;
  auto version = version_param(q, respond);
  auto limit = version ? number_param(q, "limit", k_default_list, 1, k_max_list, respond) : std::nullopt;
  if (!limit)
    return;
  std::string after(q.get("after").value_or(""));
  auto shared = std::make_shared<respond_fn>(std::move(respond));
  auto& e = rq.engine;
  bool known = e.list_view({view, *version}, after, *limit, [shared, view, &e](engine::view_page p) {
    auto& answer = *shared;
    if (p.building)
      return answer(building_reply(e, view, p.position));
    std::string body;
    codec::json_writer w(body);
    w.begin_object().key("view").string(view).key("position").uinteger(p.position).key("items").begin_array();
    for (auto& item : p.items) {
      w.begin_object().key("key").string(item.key).key("changed_at").uinteger(item.changed_at);
      w.key("value").raw(*item.value).end_object();
    }
    w.end_array().key("next");
    if (p.more && !p.items.empty())
      w.string(p.items.back().key);
    else
      w.null();
    w.end_object();
    answer(json_reply(200, std::move(body)));
  });
  if (!known)
    (*shared)(unknown_view(e, view, *version));
}

// GET /v1/admin/views: every defined version of every view (SPEC §10).
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

void get_admin_views(request& rq) {
  std::string body;
  codec::json_writer w(body);
  write_view_statuses(w, rq.engine.view_statuses());
  rq.respond(json_reply(200, std::move(body)));
}

void write_histogram(codec::json_writer& w, const duration_histogram::counts& c) {
  w.begin_object().key("bounds_ns").begin_array();
  for (auto b : duration_histogram::k_bounds_ns)
    w.uinteger(b);
  w.end_array().key("buckets").begin_array(); // per bucket, not cumulative; the last is +Inf
  for (auto n : c.buckets)
    w.uinteger(n);
  w.end_array().key("count").uinteger(c.count).key("sum_ns").uinteger(c.sum_ns).end_object();
}

// The dashboard page (src/http/dashboard/index.html, embedded at build time).
// It may talk to this server only.
void get_dashboard(request& rq) {
  reply r{200, "text/html; charset=utf-8", std::string(k_dashboard_page), {}};
  r.headers.emplace_back("Content-Security-Policy",
                         "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
                         "connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'");
  r.headers.emplace_back("Cache-Control", "no-cache");
  rq.respond(std::move(r));
}

void get_openapi(request& rq) { rq.respond(json_reply(200, std::string(k_openapi_document))); }

// GET /v1/admin/status: what /metrics says, as one JSON object, for the
// dashboard (SPEC §15): counters are totals, the page takes differences.
void get_status(request& rq) {
  auto m = rq.engine.snapshot();
  auto front = read_front_metrics();
  std::string body;
  codec::json_writer w(body);
  auto now = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch());
  w.begin_object().key("version").string(build_version()).key("time_ms").uinteger(static_cast<uint64_t>(now.count()));
  w.key("ready").boolean(rq.engine.ready());
  w.key("auth").boolean(rq.by.auth != nullptr);
  w.key("commands").begin_object();
  w.key("ok").uinteger(m.commands_ok).key("rejected").uinteger(m.commands_rejected);
  w.key("conflict").uinteger(m.commands_conflict).key("invalid").uinteger(m.commands_invalid);
  w.key("duplicate").uinteger(m.commands_duplicate).key("overloaded").uinteger(m.commands_overloaded);
  w.end_object();
  w.key("command_duration");
  write_histogram(w, m.command_duration);
  w.key("in_flight").uinteger(m.in_flight).key("command_bus_depth").uinteger(m.command_bus_depth);
  w.key("log").begin_object().key("position").uinteger(m.log_position);
  w.key("first_position").uinteger(m.log_first_position).key("syncs").uinteger(m.log_syncs);
  w.key("events_appended").uinteger(m.events_appended).end_object();
  w.key("aggregates").begin_object().key("live").uinteger(m.aggregates_live).key("known").uinteger(m.aggregates_known);
  w.key("activations").uinteger(m.activations).key("passivations").uinteger(m.passivations).end_object();
  w.key("ws").begin_object().key("sessions").uinteger(front.ws_sessions);
  w.key("messages_sent").uinteger(front.ws_messages_sent).end_object();
  w.key("views");
  write_view_statuses(w, rq.engine.view_statuses());
  w.key("processes").begin_array();
  for (auto& p : m.processes) {
    w.begin_object().key("process").string(p.name).key("unfinished").uinteger(p.unfinished);
    w.key("accepted").uinteger(p.accepted).key("duplicate").uinteger(p.duplicate);
    w.key("rejected").uinteger(p.rejected).key("conflict").uinteger(p.conflict).key("retried").uinteger(p.retried);
    w.end_object();
  }
  w.end_array();
  w.key("http_responses").begin_object();
  for (auto [code, n] : http_responses())
    w.key(std::to_string(code)).uinteger(n);
  w.end_object().end_object();
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

// A "{…}" segment of the path, percent-decoded; answers 400 when it is malformed.
std::optional<std::string> path_param(request& rq, size_t i) {
  auto v = percent_decode(rq.where.params[i]);
  if (!v)
    rq.respond(error_reply(400, "bad_request", "malformed percent-encoding in the path"));
  return v;
}

void get_healthz(request& rq) { rq.respond(json_reply(200, R"({"ok":true})")); }

void get_readyz(request& rq) {
  if (rq.engine.stopping())
    return rq.respond(error_reply(503, "not_ready", "the server is shutting down"));
  if (!rq.engine.ready())
    return rq.respond(error_reply(503, "not_ready", "recovery is still running"));
  if (rq.engine.log_unavailable())
    return rq.respond(error_reply(503, "log_unavailable", "the event log cannot append (is the disk full?)"));
  rq.respond(json_reply(200, R"({"ok":true,"ready":true})"));
}

void get_metrics(request& rq) {
  auto front = read_front_metrics();
  if (rq.by.auth) {
    front.denied_unauthorized = rq.by.auth->denied(auth::denial::unauthorized);
    front.denied_forbidden = rq.by.auth->denied(auth::denial::forbidden);
  }
  rq.respond(reply{200, "text/plain; version=0.0.4", render_metrics(rq.engine.snapshot(), front), {}});
}

void get_stream(request& rq) {
  rq.respond(error_reply(426, "upgrade_required", "/v1/stream is a WebSocket endpoint: send an upgrade"));
}

void get_history(request& rq) {
  if (auto id = path_param(rq, 0))
    get_aggregate_events(rq, *id);
}

// A view the caller has no grant for is 403 whether or not it exists (SPEC §11).
bool forbidden_view(request& rq, const std::string& view) {
  if (!rq.by.who || rq.by.who->rights.may_read(view))
    return false;
  rq.by.auth->count(auth::denial::forbidden);
  rq.respond(denied_reply(auth::denial::forbidden, fmt::format("this token may not read view {}", view.substr(0, 64))));
  return true;
}

// GET /v1/views: the views the caller may read, with their versions.
void get_views(request& rq) {
  auto statuses = rq.engine.view_statuses();
  std::string body;
  codec::json_writer w(body);
  w.begin_object().key("views").begin_array();
  for (size_t i = 0; i < statuses.size();) {
    auto view = statuses[i].view;
    size_t end = i;
    while (end < statuses.size() && statuses[end].view == view)
      ++end;
    if (!rq.by.who || rq.by.who->rights.may_read(view)) {
      w.begin_object().key("view").string(view).key("version");
      auto serving =
          std::find_if(statuses.begin() + static_cast<ptrdiff_t>(i), statuses.begin() + static_cast<ptrdiff_t>(end),
                       [](auto& st) { return st.state == "serving"; });
      if (serving != statuses.begin() + static_cast<ptrdiff_t>(end))
        w.uinteger(serving->version);
      else
        w.null(); // new in this build: still building its first version
      w.key("versions").begin_array();
      for (size_t j = i; j < end; ++j)
        w.begin_object()
            .key("version")
            .uinteger(statuses[j].version)
            .key("state")
            .string(statuses[j].state)
            .end_object();
      w.end_array().end_object();
    }
    i = end;
  }
  w.end_array().end_object();
  rq.respond(json_reply(200, std::move(body)));
}

void get_list(request& rq) {
  if (auto view = path_param(rq, 0); view && !forbidden_view(rq, *view))
    get_view_list(rq, *view);
}

void get_key(request& rq) {
  auto view = path_param(rq, 0);
  if (!view || forbidden_view(rq, *view))
    return;
  if (auto key = path_param(rq, 1))
    get_view_key(rq, *view, *key);
}

// The whole HTTP API; the first pattern that matches a path decides
// whether it exists, every pattern that matches it, which methods it allows.
const std::vector<endpoint> k_routes = {
    {"GET", "/", body_kind::none, get_dashboard, access::open},
    {"GET", "/healthz", body_kind::none, get_healthz, access::open},
    {"GET", "/readyz", body_kind::none, get_readyz, access::open},
    {"GET", "/metrics", body_kind::none, get_metrics, access::metrics},
    {"GET", "/v1/admin/status", body_kind::none, get_status, access::metrics},
    {"GET", "/v1/openapi.json", body_kind::none, get_openapi, access::open},
    {"POST", "/v1/commands", body_kind::command, post_command, access::commands},
    {"POST", "/v1/commands/batch", body_kind::batch, post_batch, access::token},
    {"GET", "/v1/stream", body_kind::none, get_stream, access::token},
    {"GET", "/v1/events", body_kind::none, get_events, access::events},
    {"GET", "/v1/aggregates/{id}/events", body_kind::none, get_history, access::events},
    {"GET", "/v1/views", body_kind::none, get_views, access::views},
    {"GET", "/v1/views/{view}", body_kind::none, get_list, access::views},
    {"GET", "/v1/views/{view}/{key}", body_kind::none, get_key, access::views},
    {"GET", "/v1/admin/views", body_kind::none, get_admin_views, access::admin},
    {"POST", "/v1/admin/views/{view}/rebuild", body_kind::command, post_admin_rebuild, access::admin},
    {"GET", "/v1/admin/views/{view}/errors", body_kind::none, get_admin_errors, access::admin},
    {"POST", "/v1/admin/views/{view}/errors/replay", body_kind::command, post_admin_replay, access::admin},
    {"POST", "/v1/admin/views/{view}/errors/skip", body_kind::command, post_admin_skip, access::admin},
};

// Matches `path` against `pattern` segment by segment; fills `params`.
bool matches(std::string_view pattern, std::string_view path, std::array<std::string_view, 2>& params) {
  size_t n = 0;
  while (!pattern.empty() || !path.empty()) {
    if (pattern.empty() || path.empty() || pattern[0] != '/' || path[0] != '/')
      return false;
    pattern.remove_prefix(1);
    path.remove_prefix(1);
    auto pe = pattern.find('/'), qe = path.find('/');
    auto want = pattern.substr(0, pe), got = path.substr(0, qe);
    if (want.starts_with('{')) {
      if (got.empty() || n == params.size())
        return false;
      params[n++] = got;
    } else if (want != got)
      return false;
    pattern = pe == std::string_view::npos ? std::string_view{} : pattern.substr(pe);
    path = qe == std::string_view::npos ? std::string_view{} : path.substr(qe);
  }
  return true;
}

} // namespace

const std::vector<endpoint>& endpoints() { return k_routes; }

resolution resolve(std::string_view method, std::string_view path) {
  resolution r;
  std::string_view want = method == "HEAD" ? std::string_view("GET") : method;
  for (auto& rt : k_routes) {
    std::array<std::string_view, 2> params{};
    if (!matches(rt.pattern, path, params))
      continue;
    if (rt.method == want) {
      r.result = resolution::kind::found;
      r.matched = &rt;
      r.params = params;
      return r;
    }
    r.result = resolution::kind::method_not_allowed;
    if (!r.allow.empty())
      r.allow += ", ";
    r.allow += rt.method;
    if (rt.method == "GET")
      r.allow += ", HEAD";
  }
  return r;
}

size_t body_limit(const resolution& r, const limits& l) {
  if (r.result != resolution::kind::found)
    return 0;
  switch (r.matched->body) {
    case body_kind::none: return 0;
    case body_kind::command: return l.command_body_bytes;
    case body_kind::batch: return l.batch_body_bytes;
  }
  return 0;
}

reply error_reply(int status, std::string_view code, std::string_view message) {
  std::string body;
  codec::json_writer w(body);
  api::write_error(w, status, code, message, false);
  return json_reply(status, std::move(body));
}

reply method_not_allowed(std::string_view allow) {
  auto r = error_reply(405, "method_not_allowed", fmt::format("this path allows {}", allow));
  r.headers.emplace_back("Allow", std::string(allow));
  return r;
}

reply denied_reply(auth::denial d, std::string_view message) {
  if (d == auth::denial::forbidden)
    return error_reply(403, "forbidden", message);
  auto r = error_reply(401, "unauthorized", message);
  r.headers.emplace_back("WWW-Authenticate", R"(Bearer realm="sluice")");
  return r;
}

reply no_such_path(std::string_view path) {
  std::vector<std::string_view> patterns;
  for (auto& rt : k_routes)
    if (patterns.empty() || std::ranges::find(patterns, rt.pattern) == patterns.end())
      patterns.push_back(rt.pattern);
  auto shown = path.substr(0, 200);
  return error_reply(404, "not_found",
                     fmt::format("no such path: {}{}; the API's paths are {}", shown, did_you_mean(shown, patterns),
                                 join_names(patterns)));
}

void route(engine::engine& e, const limits& l, std::string_view method, std::string_view target, std::string&& body,
           respond_fn done, caller by) {
  auto qmark = target.find('?');
  auto path = target.substr(0, qmark);
  auto where = resolve(method, path);
  if (where.result == resolution::kind::not_found)
    return done(no_such_path(path));
  if (where.result == resolution::kind::method_not_allowed)
    return done(method_not_allowed(where.allow));
  query q(qmark == std::string_view::npos ? std::string_view{} : target.substr(qmark + 1));
  if (q.bad())
    return done(error_reply(400, "bad_request", "malformed query string"));
  request rq{e, l, where, q, std::move(body), std::move(done), by};
  where.matched->handler(rq);
}

void route(engine::engine& e, const limits& l, const endpoint& known, std::string_view target, std::string&& body,
           respond_fn done, caller by) {
  auto qmark = target.find('?');
  resolution where;
  where.result = resolution::kind::found;
  where.matched = &known;
  matches(known.pattern, target.substr(0, qmark), where.params);
  query q(qmark == std::string_view::npos ? std::string_view{} : target.substr(qmark + 1));
  if (q.bad())
    return done(error_reply(400, "bad_request", "malformed query string"));
  request rq{e, l, where, q, std::move(body), std::move(done), by};
  known.handler(rq);
}

} // namespace sluice::http
