// GET /v1/views and /v1/views/{view}[/{key}]: reading views by key or by
// page, with the per-view grant check and the answers for unknown views.
#include "http/route_handlers.h"

#include "base/closest.h"
#include "codec/json_writer.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <memory>

namespace sluice::http::handlers {

namespace {

constexpr uint64_t k_default_wait_ms = 1000, k_max_wait_ms = 30'000;

// ?version=N (SPEC §10): a positive integer; 0 when absent (the serving one).
std::optional<uint32_t> version_param(const query& q, respond_fn& respond) {
  if (!q.get("version"))
    return 0;
  auto v = number_param(q, "version", 0, 1, UINT32_MAX, respond);
  if (!v)
    return std::nullopt;
  return static_cast<uint32_t>(*v);
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

// A view the caller has no grant for is 403 whether or not it exists (SPEC §11).
bool forbidden_view(request& rq, const std::string& view) {
  if (!rq.by.who || rq.by.who->rights.may_read(view))
    return false;
  rq.by.auth->count(auth::denial::forbidden);
  rq.respond(denied_reply(auth::denial::forbidden, fmt::format("this token may not read view {}", view.substr(0, 64))));
  return true;
}

} // namespace

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

} // namespace sluice::http::handlers
