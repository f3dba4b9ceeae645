// The routes of the HTTP API (SPEC §5) as one declarative table: method,
// path pattern, body limit and handler, read both by routing and by the
// session that must choose a body limit before it reads the body.
#pragma once

#include <array>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace sluice::http {

struct limits;
struct request;

/// The body a route takes: which of the limits applies.
enum class body_kind {
  none,    ///< no body (a GET); any body is 413
  command, ///< limits::command_body_bytes
  batch,   ///< limits::batch_body_bytes
};

using handler_fn = void (*)(request& r);

/// The grant a route needs (SPEC §11), checked before routing; commands
/// and views check the aggregate type or view in their handlers as well.
enum class access : uint8_t {
  open,     ///< no token
  token,    ///< any known token: the handler checks each batch line or subscribe
  commands, ///< a token with some commands: grant (the command's type is checked)
  views,    ///< views:<view> of the path's view (in the handler)
  events,
  metrics,
  admin,
};

struct endpoint {
  std::string_view method;  ///< "GET" routes answer HEAD too
  std::string_view pattern; ///< segments; "{name}" matches one non-empty segment
  body_kind body;
  handler_fn handler;
  access needs;
};

/// What a request line resolves to.
struct resolution {
  enum class kind { found, not_found, method_not_allowed } result = kind::not_found;
  const endpoint* matched = nullptr; ///< found
  std::string allow;                 ///< method_not_allowed: the Allow header
  /// found: the "{…}" segments in pattern order, still percent-encoded.
  std::array<std::string_view, 2> params{};
};

/// Finds the route for `method` on `path` (no query string). HEAD resolves
/// like GET. Thread-safe.
resolution resolve(std::string_view method, std::string_view path);

/// The largest body `r` allows under `l`; 0 for none.
size_t body_limit(const resolution& r, const limits& l);

/// Every endpoint, in matching order.
const std::vector<endpoint>& endpoints();

} // namespace sluice::http
