// POST /v1/commands and /v1/commands/batch: decoding commands from request
// bodies, the grant check, and the answers the engine's results become.
#include "http/route_handlers.h"

#include "api/command_result.h"
#include "base/short_string.h"
#include "codec/json_writer.h"
#include "domain/command_decoder.h"

#include <fmt/format.h>

#include <atomic>
#include <memory>

namespace sluice::http::handlers {

namespace {

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

// One line of a batch as its answer arrives.
struct batch_line {
  short_string aggregate_id;
  engine::command_result result;
  std::string rendered; ///< a line that failed to decode: its error, already written
};

// Each line's outcome is kept as it arrives and the whole answer rendered
// once, by whoever delivers the last: no string per line.
struct batch_answer {
  std::vector<batch_line> lines;
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

// The lines of a batch body that are not blank, in order.
std::vector<std::string_view> command_lines(std::string_view body) {
  std::vector<std::string_view> inputs;
  for (std::string_view rest = body; !rest.empty();) {
    auto nl = rest.find('\n');
    auto text = rest.substr(0, nl);
    rest = nl == std::string_view::npos ? std::string_view{} : rest.substr(nl + 1);
    if (text.find_first_not_of(" \t\r") != std::string_view::npos)
      inputs.push_back(text);
  }
  return inputs;
}

} // namespace

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

// Every non-empty line is one command; answers come back in line order
// (batch_answer gathers them).
void post_batch(request& rq) {
  auto& body = rq.body;
  auto g = std::make_shared<batch_answer>();
  g->respond = std::move(rq.respond);
  body.reserve(body.size() + domain::k_json_padding); // before the lines point into it
  auto inputs = command_lines(body);
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

} // namespace sluice::http::handlers
