// libFuzzer target: one command envelope (SPEC §2) into the decoder, then,
// if it decodes, into a real aggregate of its type twice (so rules on an
// existing aggregate run too), and its events rendered as Event JSON.
#include "builtin/builtin.h"
#include "codec/json_writer.h"
#include "domain/aggregate.h"
#include "domain/command_decoder.h"
#include "domain/event_json.h"
#include "domain/registry.h"

#include <cstdlib>

using namespace sluice;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static domain::command_decoder decoder{builtin::model().types()};
  auto cmd = decoder.decode(std::string_view(reinterpret_cast<const char*>(data), size));
  if (!cmd) {
    if (cmd.error().message.empty())
      std::abort(); // every refusal says why
    return 0;
  }
  if (cmd->type == nullptr || cmd->aggregate_id.empty())
    std::abort();
  domain::aggregate agg(*cmd->type, std::string(cmd->aggregate_id));
  domain::event_list events;
  uint64_t position = 0;
  for (int round = 0; round < 2; ++round) {
    events.clear();
    auto o = agg.handle(*cmd, events);
    if (o.result != domain::outcome::kind::accepted)
      continue;
    agg.durable(cmd->command_id, position + events.size());
    uint64_t version = agg.version() - events.size();
    for (auto& ev : events) {
      log::record rec{++position, ++version, 0, ev.type, cmd->aggregate_id, cmd->command_id, ev.data};
      std::string json;
      codec::json_writer w(json);
      domain::write_event_json(builtin::model().types(), rec, w);
      if (json.empty() || json.front() != '{' || json.back() != '}')
        std::abort();
    }
  }
  return 0;
}
