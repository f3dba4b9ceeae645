// The handlers the route table (routes.cpp) names, one file per role, and
// the few request helpers they share. Only src/http/routes*.cpp include it.
#pragma once

#include "http/routes.h"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sluice::codec {
class json_writer;
}

/// Every handler has the shape of handler_fn: route() calls it on the thread
/// that read the request, with `rq` valid only for that call. It answers
/// through rq.respond exactly once, either before it returns or later from
/// whichever thread the engine calls back on (the handler moves respond
/// into the callback). Handlers are thread-safe given a thread-safe engine.
namespace sluice::http::handlers {

/// ?limit= of a view page or a list of parked errors: default and maximum.
constexpr size_t k_default_list = 100, k_max_list = 1000;

// Request helpers (routes.cpp). On a bad parameter they answer 400 through
// the request's respond and return nullopt: the handler must then return
// without answering again.

/// A reply with a JSON body.
reply json_reply(int status, std::string body);

/// An integer query parameter, `fallback` when absent; nullopt (answered
/// 400 naming it) when it is not an integer from `lo` to `hi`.
std::optional<uint64_t> number_param(const query& q, std::string_view name, uint64_t fallback, uint64_t lo, uint64_t hi,
                                     respond_fn& respond);

/// The `i`th "{…}" segment of the path, percent-decoded; nullopt (answered
/// 400) when it is malformed.
std::optional<std::string> path_param(request& rq, size_t i);

/// 404 naming what exists: the views (and the closest name), or the view's
/// versions when `version` is not 0 (routes_views.cpp). Calls e.view_statuses().
reply unknown_view(const engine::engine& e, std::string_view view, uint32_t version);

/// The array of GET /v1/admin/views, also in /v1/admin/status (routes_admin.cpp).
void write_view_statuses(codec::json_writer& w, const std::vector<engine::view_status>& statuses);

// routes_commands.cpp
void post_command(request& rq);
void post_batch(request& rq);

// routes_views.cpp
void get_views(request& rq);
void get_list(request& rq);
void get_key(request& rq);

// routes_admin.cpp
void get_admin_views(request& rq);
void get_admin_cluster(request& rq);
void get_admin_errors(request& rq);
void post_admin_replay(request& rq);
void post_admin_skip(request& rq);
void post_admin_rebuild(request& rq);

// routes_events.cpp
void get_events(request& rq);
void get_history(request& rq);
void get_stream(request& rq);

// routes_health.cpp
void get_healthz(request& rq);
void get_readyz(request& rq);
void get_metrics(request& rq);
void get_status(request& rq);
void get_dashboard(request& rq);
void get_openapi(request& rq);

} // namespace sluice::http::handlers
