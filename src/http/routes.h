// The HTTP API of SPEC §5 as plain functions of a request: the wire
// protocol (session.cpp) is kept apart from what each endpoint means.
#pragma once

#include "engine/engine.h"

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
  size_t pipeline_depth = 32; ///< requests read ahead of their answers
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

/// The body limit for a request line, decided before the body is read.
size_t body_limit(std::string_view method, std::string_view target, const limits& l);

/// Serves one request. Thread-safe given a thread-safe engine.
void route(engine::engine& e, const limits& l, std::string_view method, std::string_view target,
           std::string&& body, respond_fn respond);

/// The error body of SPEC §5.
reply error_reply(int status, std::string_view code, std::string_view message);

/// "%41b" → "Ab"; nullopt on a bad escape.
std::optional<std::string> percent_decode(std::string_view s);

} // namespace sluice::http
