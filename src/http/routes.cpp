#include "http/routes.h"

#include "api/command_result.h"
#include "codec/json_writer.h"
#include "domain/command_decoder.h"
#include "domain/event_json.h"
#include "http/prometheus.h"

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <map>
#include <memory>
#include <mutex>

namespace sluice::http {

namespace {

constexpr size_t k_default_list = 100, k_max_list = 1000;
constexpr uint64_t k_default_events = 1000, k_max_events = 100'000;
constexpr uint64_t k_default_history = 10'000, k_max_history = 100'000;
constexpr uint64_t k_default_wait_ms = 1000, k_max_wait_ms = 30'000;

struct query {
  std::map<std::string, std::string, std::less<>> params;
  bool bad = false;

  explicit query(std::string_view q) {
    while (!q.empty()) {
      auto amp = q.find('&');
      auto part = q.substr(0, amp);
      q = amp == std::string_view::npos ? std::string_view{} : q.substr(amp + 1);
      if (part.empty())
        continue;
      auto eq = part.find('=');
      auto k = percent_decode(part.substr(0, eq));
      auto v = percent_decode(eq == std::string_view::npos ? std::string_view{} : part.substr(eq + 1));
      if (!k || !v) {
        bad = true;
        return;
      }
      params.emplace(std::move(*k), std::move(*v));
    }
  }

  // The unsigned parameter `name` in [lo, hi], `fallback` if absent; nullopt if malformed.
  std::optional<uint64_t> number(std::string_view name, uint64_t fallback, uint64_t lo, uint64_t hi) const {
    auto it = params.find(name);
    if (it == params.end())
      return fallback;
    uint64_t v = 0;
    auto& s = it->second;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || end != s.data() + s.size() || v < lo || v > hi)
      return std::nullopt;
    return v;
  }
};

reply json_reply(int status, std::string body) { return {status, "application/json", std::move(body), {}}; }

reply bad_param(std::string_view name, uint64_t lo, uint64_t hi) {
  return error_reply(400, "bad_request", fmt::format("query parameter {} must be an integer from {} to {}", name, lo, hi));
}

// An integer query parameter; when it is out of range, answers 400 naming it.
std::optional<uint64_t> number_param(const query& q, std::string_view name, uint64_t fallback, uint64_t lo,
                                     uint64_t hi, respond_fn& respond) {
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
    case status::overloaded:
      api::write_error(w, 503, "overloaded", r.message, batch_line);
      return 503;
    case status::not_ready:
      api::write_error(w, 503, "not_ready", r.message, batch_line);
      return 503;
    case status::failed:
      api::write_error(w, 500, "internal", r.message, batch_line);
      return 500;
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
  return rep;
}

thread_local domain::command_decoder t_decoder;

// Decodes `json`, which lies inside `body`: with the padding simdjson reads
// past the end available in body's buffer, the decoder parses in place
// instead of copying.
std::expected<domain::command, domain::error> decode_in(const std::string& body, std::string_view json) {
  size_t capacity = body.capacity() - static_cast<size_t>(json.data() - body.data());
  return t_decoder.decode(json.data(), json.size(), capacity);
}

void post_command(engine::engine& e, std::string&& body, respond_fn respond) {
  body.reserve(body.size() + domain::k_json_padding);
  auto cmd = decode_in(body, body);
  if (!cmd) {
    respond(error_reply(domain::http_status(cmd.error().code), domain::to_string(cmd.error().code),
                        cmd.error().message));
    return;
  }
  auto id = cmd->aggregate_id;
  e.submit(std::move(*cmd), [respond = std::move(respond), id = std::move(id)](engine::command_result r) mutable {
    respond(command_reply(id, r));
  });
}

// Every non-empty line is one command; answers come back in line order.
// Each line's outcome is kept as it arrives and the whole answer rendered
// once, by whoever delivers the last: no string per line.
void post_batch(engine::engine& e, const limits& l, std::string&& body, respond_fn respond) {
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
  g->respond = std::move(respond);
  body.reserve(body.size() + domain::k_json_padding);
  std::vector<std::string_view> inputs;
  for (std::string_view rest = body; !rest.empty();) {
    auto nl = rest.find('\n');
    auto text = rest.substr(0, nl);
    rest = nl == std::string_view::npos ? std::string_view{} : rest.substr(nl + 1);
    if (text.find_first_not_of(" \t\r") != std::string_view::npos)
      inputs.push_back(text);
  }
  if (inputs.size() > l.batch_lines) {
    g->respond(error_reply(413, "too_large", fmt::format("a batch holds at most {} commands", l.batch_lines)));
    return;
  }
  g->lines.resize(inputs.size());
  g->pending.fetch_add(inputs.size());
  for (size_t i = 0; i < inputs.size(); ++i) {
    auto cmd = decode_in(body, inputs[i]);
    if (!cmd) {
      codec::json_writer w(g->lines[i].rendered);
      api::write_error(w, domain::http_status(cmd.error().code), domain::to_string(cmd.error().code),
                       cmd.error().message, true);
      if (g->pending.fetch_sub(1) == 1)
        g->finish();
      continue;
    }
    g->lines[i].aggregate_id = cmd->aggregate_id;
    // Small enough (24 bytes) for move_only_function to hold without allocating.
    e.submit(std::move(*cmd), [g, i](engine::command_result r) {
      g->lines[i].result = std::move(r);
      if (g->pending.fetch_sub(1) == 1)
        g->finish();
    });
  }
  if (g->pending.fetch_sub(1) == 1)
    g->finish();
}

void get_view_key(engine::engine& e, const std::string& view, const std::string& key, const query& q,
                  respond_fn respond) {
  auto min = number_param(q, "min_position", 0, 0, UINT64_MAX, respond);
  auto wait = min ? number_param(q, "timeout_ms", k_default_wait_ms, 0, k_max_wait_ms, respond) : std::nullopt;
  if (!wait)
    return;
  // Shared: the callback may answer, or (unknown view) this function.
  auto shared = std::make_shared<respond_fn>(std::move(respond));
  bool known = e.read_view(view, key, *min, std::chrono::milliseconds(*wait),
                           [shared, view, key](engine::view_read r) {
                             auto& answer = *shared;
                             using st = engine::read_status;
                             if (r.status == st::timeout)
                               return answer(error_reply(504, "timeout",
                                                          fmt::format("view {} has not reached the position yet "
                                                                      "(at {})", view, r.position)));
                             if (r.status == st::not_found)
                               return answer(error_reply(404, "not_found", fmt::format("no key '{}' in view {}",
                                                                                        key, view)));
                             std::string body;
                             codec::json_writer w(body);
                             w.begin_object().key("view").string(view).key("key").string(key);
                             w.key("position").uinteger(r.position).key("changed_at").uinteger(r.changed_at);
                             w.key("value").raw(*r.value).end_object();
                             answer(json_reply(200, std::move(body)));
                           });
  if (!known)
    (*shared)(error_reply(404, "not_found", fmt::format("no view named '{}'", view)));
}

void get_view_list(engine::engine& e, const std::string& view, const query& q, respond_fn respond) {
  auto limit = number_param(q, "limit", k_default_list, 1, k_max_list, respond);
  if (!limit)
    return;
  auto it = q.params.find("after");
  std::string after = it == q.params.end() ? "" : it->second;
  auto shared = std::make_shared<respond_fn>(std::move(respond));
  bool known = e.list_view(view, after, *limit, [shared, view](engine::view_page p) {
    auto& answer = *shared;
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
    (*shared)(error_reply(404, "not_found", fmt::format("no view named '{}'", view)));
}

void get_events(engine::engine& e, const query& q, respond_fn respond) {
  auto from = number_param(q, "from", 1, 0, UINT64_MAX, respond);
  auto limit = from ? number_param(q, "limit", k_default_events, 1, k_max_events, respond) : std::nullopt;
  if (!limit)
    return;
  std::string body;
  auto r = e.log().read(*from, *limit, [&](const log::record& rec) {
    {
      codec::json_writer w(body);
      domain::write_event_json(domain::registry::builtin(), rec, w);
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
void get_aggregate_events(engine::engine& e, const std::string& id, const query& q, respond_fn respond) {
  auto from_version = number_param(q, "from_version", 1, 1, UINT64_MAX, respond);
  auto limit = from_version ? number_param(q, "limit", k_default_history, 1, k_max_history, respond) : std::nullopt;
  if (!limit)
    return;
  // Ids are per aggregate type: two aggregates may share one; their events
  // go out together, in log order.
  auto parts = e.aggregate_history(id, *from_version - 1, *limit);
  if (parts.empty())
    return respond(error_reply(404, "not_found", "no aggregate with this id has events"));
  std::vector<uint64_t> positions;
  for (auto& p : parts)
    positions.insert(positions.end(), p.positions.begin(), p.positions.end());
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
        domain::write_event_json(domain::registry::builtin(), rec, w);
      return false;
    });
    if (!r || !found)
      return respond(error_reply(500, "internal", r ? fmt::format("position {} is not in the log", p)
                                                    : r.error().message));
  }
  w.end_array();
  respond(json_reply(200, std::move(body)));
}

std::vector<std::string_view> split_path(std::string_view path) {
  std::vector<std::string_view> parts;
  for (size_t i = 1; i <= path.size();) {
    auto slash = path.find('/', i);
    if (slash == std::string_view::npos)
      slash = path.size();
    parts.push_back(path.substr(i, slash - i));
    i = slash + 1;
  }
  return parts;
}

reply method_not_allowed(std::string_view allow) {
  auto r = error_reply(405, "method_not_allowed", fmt::format("this path allows {}", allow));
  r.headers.emplace_back("Allow", std::string(allow));
  return r;
}

} // namespace

reply error_reply(int status, std::string_view code, std::string_view message) {
  std::string body;
  codec::json_writer w(body);
  api::write_error(w, status, code, message, false);
  return json_reply(status, std::move(body));
}

std::optional<std::string> percent_decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9')
      return c - '0';
    if (c >= 'a' && c <= 'f')
      return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
      return c - 'A' + 10;
    return -1;
  };
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out.push_back(s[i]);
      continue;
    }
    if (i + 2 >= s.size())
      return std::nullopt; // '%' needs two hex digits after it
    int hi = hex(s[i + 1]), lo = hex(s[i + 2]);
    if (hi < 0 || lo < 0)
      return std::nullopt;
    out.push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return out;
}

size_t body_limit(std::string_view method, std::string_view target, const limits& l) {
  if (method == "POST" && target.starts_with("/v1/commands/batch"))
    return l.batch_body_bytes;
  return method == "POST" ? l.command_body_bytes : 0;
}

void route(engine::engine& e, const limits& l, std::string_view method, std::string_view target, std::string&& body,
           respond_fn respond) {
  auto qmark = target.find('?');
  auto path = target.substr(0, qmark);
  query q(qmark == std::string_view::npos ? std::string_view{} : target.substr(qmark + 1));
  if (q.bad)
    return respond(error_reply(400, "bad_request", "malformed query string"));
  auto parts = split_path(path);
  bool get = method == "GET";
  bool post = method == "POST";

  if (path == "/healthz")
    return respond(get ? json_reply(200, R"({"ok":true})") : method_not_allowed("GET"));
  if (path == "/readyz") {
    if (!get)
      return respond(method_not_allowed("GET"));
    return respond(e.ready() ? json_reply(200, R"({"ok":true,"ready":true})")
                             : error_reply(503, "not_ready", "recovery is still running"));
  }
  if (path == "/metrics")
  {
    if (!get)
      return respond(method_not_allowed("GET"));
    return respond(reply{200, "text/plain; version=0.0.4", render_metrics(e.snapshot(), read_front_metrics()), {}});
  }
  if (path == "/v1/commands")
    return post ? post_command(e, std::move(body), std::move(respond)) : respond(method_not_allowed("POST"));
  if (path == "/v1/commands/batch")
    return post ? post_batch(e, l, std::move(body), std::move(respond)) : respond(method_not_allowed("POST"));
  if (path == "/v1/stream")
    return respond(error_reply(426, "upgrade_required", "/v1/stream is a WebSocket endpoint: send an upgrade"));
  if (path == "/v1/events")
    return get ? get_events(e, q, std::move(respond)) : respond(method_not_allowed("GET"));
  if (parts.size() == 4 && parts[0] == "v1" && parts[1] == "aggregates" && parts[3] == "events") {
    if (!get)
      return respond(method_not_allowed("GET"));
    auto id = percent_decode(parts[2]);
    if (!id)
      return respond(error_reply(400, "bad_request", "malformed percent-encoding in the path"));
    return get_aggregate_events(e, *id, q, std::move(respond));
  }
  if (parts.size() >= 3 && parts.size() <= 4 && parts[0] == "v1" && parts[1] == "views") {
    if (!get)
      return respond(method_not_allowed("GET"));
    auto view = percent_decode(parts[2]);
    auto key = parts.size() == 4 ? percent_decode(parts[3]) : std::optional<std::string>("");
    if (!view || !key)
      return respond(error_reply(400, "bad_request", "malformed percent-encoding in the path"));
    if (parts.size() == 3)
      return get_view_list(e, *view, q, std::move(respond));
    return get_view_key(e, *view, *key, q, std::move(respond));
  }
  respond(error_reply(404, "not_found", fmt::format("no such path: {}", path.substr(0, 200))));
}

} // namespace sluice::http
