// The route table and dispatch: resolving a request to its endpoint, the
// error replies every route shares, and the request helpers of route_handlers.h.
// The handlers themselves live in routes_<role>.cpp.
#include "http/routes.h"

#include "api/command_result.h"
#include "base/closest.h"
#include "codec/json_writer.h"
#include "http/route_handlers.h"

#include <fmt/format.h>

#include <algorithm>

namespace sluice::http {

namespace handlers {

reply json_reply(int status, std::string body) { return {status, "application/json", std::move(body), {}}; }

namespace {

reply bad_param(std::string_view name, uint64_t lo, uint64_t hi) {
  return error_reply(400, "bad_request",
                     fmt::format("query parameter {} must be an integer from {} to {}", name, lo, hi));
}

} // namespace

// An integer query parameter; when it is out of range, answers 400 naming it.
std::optional<uint64_t> number_param(const query& q, std::string_view name, uint64_t fallback, uint64_t lo, uint64_t hi,
                                     respond_fn& respond) {
  auto v = q.number(name, fallback, lo, hi);
  if (!v)
    respond(bad_param(name, lo, hi));
  return v;
}

// A "{…}" segment of the path, percent-decoded; answers 400 when it is malformed.
std::optional<std::string> path_param(request& rq, size_t i) {
  auto v = percent_decode(rq.where.params[i]);
  if (!v)
    rq.respond(error_reply(400, "bad_request", "malformed percent-encoding in the path"));
  return v;
}

} // namespace handlers

namespace {

// The whole HTTP API; the first pattern that matches a path decides
// whether it exists, every pattern that matches it, which methods it allows.
const std::vector<endpoint> k_routes = {
    {"GET", "/", body_kind::none, handlers::get_dashboard, access::open},
    {"GET", "/healthz", body_kind::none, handlers::get_healthz, access::open},
    {"GET", "/readyz", body_kind::none, handlers::get_readyz, access::open},
    {"GET", "/metrics", body_kind::none, handlers::get_metrics, access::metrics},
    {"GET", "/v1/admin/status", body_kind::none, handlers::get_status, access::metrics},
    {"GET", "/v1/openapi.json", body_kind::none, handlers::get_openapi, access::open},
    {"POST", "/v1/commands", body_kind::command, handlers::post_command, access::commands},
    {"POST", "/v1/commands/batch", body_kind::batch, handlers::post_batch, access::token},
    {"GET", "/v1/stream", body_kind::none, handlers::get_stream, access::token},
    {"GET", "/v1/events", body_kind::none, handlers::get_events, access::events},
    {"GET", "/v1/aggregates/{id}/events", body_kind::none, handlers::get_history, access::events},
    {"GET", "/v1/views", body_kind::none, handlers::get_views, access::views},
    {"GET", "/v1/views/{view}", body_kind::none, handlers::get_list, access::views},
    {"GET", "/v1/views/{view}/{key}", body_kind::none, handlers::get_key, access::views},
    {"GET", "/v1/admin/views", body_kind::none, handlers::get_admin_views, access::admin},
    {"GET", "/v1/admin/cluster", body_kind::none, handlers::get_admin_cluster, access::admin},
    {"POST", "/v1/admin/views/{view}/rebuild", body_kind::command, handlers::post_admin_rebuild, access::admin},
    {"GET", "/v1/admin/views/{view}/errors", body_kind::none, handlers::get_admin_errors, access::admin},
    {"POST", "/v1/admin/views/{view}/errors/replay", body_kind::command, handlers::post_admin_replay, access::admin},
    {"POST", "/v1/admin/views/{view}/errors/skip", body_kind::command, handlers::post_admin_skip, access::admin},
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
  return handlers::json_reply(status, std::move(body));
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
