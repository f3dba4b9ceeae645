// What the server says about itself: health probes, Prometheus metrics, the
// status object and the dashboard page built on it, the OpenAPI document.
#include "http/route_handlers.h"

#include "base/duration_histogram.h"
#include "codec/json_writer.h"
#include "http/prometheus.h"

#include <chrono>

namespace sluice::http {

extern const std::string_view k_dashboard_page;   // generated: cmake/embed.cmake
extern const std::string_view k_openapi_document; // docs/openapi.json, the same way

namespace handlers {

namespace {

void write_histogram(codec::json_writer& w, const duration_histogram::counts& c) {
  w.begin_object().key("bounds_ns").begin_array();
  for (auto b : duration_histogram::k_bounds_ns)
    w.uinteger(b);
  w.end_array().key("buckets").begin_array(); // per bucket, not cumulative; the last is +Inf
  for (auto n : c.buckets)
    w.uinteger(n);
  w.end_array().key("count").uinteger(c.count).key("sum_ns").uinteger(c.sum_ns).end_object();
}

} // namespace

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
  w.key("cluster").boolean(m.cluster.has_value());
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

} // namespace handlers

} // namespace sluice::http
