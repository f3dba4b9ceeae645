#include "app/offline_engine.h"

#include "api/command_result.h"
#include "base/clock.h"
#include "codec/json_writer.h"

#include <fmt/format.h>

#include <istream>
#include <ostream>
#include <vector>

namespace sluice::app {

namespace {

std::string key_of(std::string_view type, std::string_view id) {
  std::string k(type);
  k.push_back('\0');
  k.append(id);
  return k;
}

// One non-empty input line of a chunk, answered once the chunk is durable.
struct pending {
  std::string aggregate_id;
  domain::outcome outcome;
  domain::error error; // when !decoded
  bool decoded = false;
  domain::aggregate* target = nullptr;
  std::string command_id;
  uint64_t last_record = 0; // index in the batch of its last event, +1
};

// Writes the result line of each of `chunk`, whose events are durable from
// position `first` on.
void write_results(std::vector<pending>& chunk, uint64_t first, std::ostream& out) {
  std::string text;
  for (auto& p : chunk) {
    codec::json_writer w(text);
    if (!p.decoded) {
      api::write_error(w, domain::http_status(p.error.code), domain::to_string(p.error.code), p.error.message, true);
    } else {
      uint64_t position = p.last_record ? first + p.last_record - 1 : 0;
      if (p.last_record)
        p.target->durable(p.command_id, position);
      // A repeat of a command earlier in this chunk learns its position only now.
      if (p.outcome.result == domain::outcome::kind::duplicate && p.outcome.position == 0)
        p.outcome.position = p.target->durable_position(p.command_id);
      api::write_command_result(w, p.aggregate_id, p.outcome, position, true);
    }
    text.push_back('\n');
  }
  out << text << std::flush;
}

} // namespace

domain::aggregate& offline_engine::find_or_create(const domain::aggregate_type& type, std::string_view id) {
  auto k = key_of(type.name(), id);
  auto it = aggregates_.find(k);
  if (it == aggregates_.end())
    it = aggregates_.emplace(std::move(k), std::make_unique<domain::aggregate>(type, std::string(id))).first;
  return *it->second;
}

std::expected<std::unique_ptr<offline_engine>, engine::error> offline_engine::open(log::store& log,
                                                                                   const domain::registry& types) {
  std::unique_ptr<offline_engine> e(new offline_engine(log, types));
  std::string failure;
  auto r = log.read(1, SIZE_MAX, [&](const log::record& rec) {
    auto* type = types.type_of_event(rec.type);
    if (!type) {
      failure = fmt::format("position {}: unknown event type '{}'", rec.position, rec.type);
      return false;
    }
    if (!e->find_or_create(*type, rec.aggregate_id).apply(rec)) {
      failure =
          fmt::format("position {}: event does not apply to {} '{}'", rec.position, type->name(), rec.aggregate_id);
      return false;
    }
    return true;
  });
  if (!r)
    return std::unexpected(engine::error{engine::errc::log_open, r.error().message});
  if (!failure.empty())
    return std::unexpected(engine::error{engine::errc::replay, failure});
  return e;
}

bool offline_engine::run(std::istream& in, std::ostream& out, size_t chunk_lines) {
  std::string line;
  std::vector<pending> chunk;
  domain::event_list events;
  bool more = true;
  while (more) {
    chunk.clear();
    log::write_batch batch;
    while (chunk.size() < chunk_lines && (more = static_cast<bool>(std::getline(in, line)))) {
      if (line.find_first_not_of(" \t\r") == std::string::npos)
        continue;
      auto& p = chunk.emplace_back();
      auto cmd = decoder_.decode(line);
      if (!cmd) {
        p.error = std::move(cmd.error());
        continue;
      }
      p.decoded = true;
      p.aggregate_id = cmd->aggregate_id;
      p.command_id = cmd->command_id;
      p.target = &find_or_create(*cmd->type, cmd->aggregate_id);
      events.clear();
      p.outcome = p.target->handle(*cmd, events);
      if (p.outcome.result != domain::outcome::kind::accepted)
        continue;
      auto version = p.outcome.version - events.size();
      auto now = now_us();
      for (auto& ev : events)
        batch.add({0, ++version, now, ev.type, cmd->aggregate_id, cmd->command_id, ev.data});
      p.last_record = batch.count();
    }
    if (chunk.empty())
      break;

    uint64_t first = log_.last_position() + 1;
    if (!batch.empty()) {
      auto r = log_.append_and_wait(std::move(batch));
      if (!r) {
        fmt::print(stderr, "sluice: event log append failed: {}\n", r.error().message);
        return false;
      }
      first = r->first;
    }
    write_results(chunk, first, out);
  }
  return true;
}

} // namespace sluice::app
