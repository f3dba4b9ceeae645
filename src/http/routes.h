// The HTTP API of SPEC §5 as plain functions of a request: the wire
// protocol (server.cpp, http_session.cpp) is kept apart from what each endpoint means, and
// the endpoints are the table of route_table.h.
#pragma once

#include "engine/engine.h"
#include "http/auth.h"
#include "http/query.h"
#include "http/route_table.h"

#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace sluice::http {

/// Limits from the command line; defaults are SPEC §5's.
struct limits {
  size_t header_bytes = 16 << 10;
  size_t command_body_bytes = 1 << 20;
  size_t batch_body_bytes = 64 << 20;
  size_t batch_lines = 100'000;
  unsigned idle_seconds = 60;
  unsigned header_seconds = 10; ///< from a request's first byte to the end of its head (slowloris)
  size_t pipeline_depth = 32;   ///< requests read ahead of their answers
  /// Bytes of request bodies held at once across every connection, from
  /// their head until their answer (bodies and the commands decoded from
  /// them); a request beyond it is answered 503 overloaded.
  size_t body_memory_bytes = size_t{512} << 20;
};

/// A response: status, content type, body and extra headers.
struct reply {
  int status = 200;
  std::string_view content_type = "application/json"; ///< always a string literal
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
};

/// Called once with the reply, from any thread.
using respond_fn = std::move_only_function<void(reply)>;

/// Who sent a request (SPEC §11); both null when auth is off.
struct caller {
  auth::authority* auth = nullptr;
  const auth::principal* who = nullptr; ///< valid while the handler runs
};

/// One request on its way through a handler.
struct request {
  engine::engine& engine;
  const limits& lim;
  const resolution& where;
  const query& q;
  std::string body;
  respond_fn respond;
  caller by;
};

/// Serves one request: resolves it in the route table and runs the
/// handler, or answers 404/405. `done` is called exactly once, possibly on
/// another thread. Thread-safe given a thread-safe engine.
void route(engine::engine& e, const limits& l, std::string_view method, std::string_view target, std::string&& body,
           respond_fn done, caller by = {});

/// The same for a request whose head already resolved to `known` (the
/// session's on_header): only its parameters are taken from `target`.
void route(engine::engine& e, const limits& l, const endpoint& known, std::string_view target, std::string&& body,
           respond_fn done, caller by = {});

/// The error body of SPEC §5.
reply error_reply(int status, std::string_view code, std::string_view message);

/// 405 with the Allow header.
reply method_not_allowed(std::string_view allow);

/// 404 for a path no route has.
reply no_such_path(std::string_view path);

/// 401 unauthorized (with WWW-Authenticate) or 403 forbidden, SPEC §11.
reply denied_reply(auth::denial d, std::string_view message);

} // namespace sluice::http
