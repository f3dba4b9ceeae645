// The router: drains the command bus and hands each command to its
// aggregate's actor, spawning it (from its recovered state, if any) on the
// aggregate's first command.
#pragma once

#include "actors/command_bus.h"
#include "actors/counters.h"
#include "actors/journal.h"
#include "domain/aggregate.h"

#include <memory>
#include <string>
#include <unordered_map>

namespace sluice::actors {

struct string_hash : std::hash<std::string_view> {
  using is_transparent = void;
};

/// Aggregates rebuilt by recovery, by type and id, not yet given an actor.
using dormant_aggregates =
    std::unordered_map<const domain::aggregate_type*,
                       std::unordered_map<std::string, std::unique_ptr<domain::aggregate>, string_hash,
                                          std::equal_to<>>>;
using dormant_ptr = std::shared_ptr<dormant_aggregates>;

struct router_state {
  command_bus* bus = nullptr;
  journal* sink = nullptr;
  counters* stats = nullptr;
  dormant_aggregates dormant;
  std::unordered_map<const domain::aggregate_type*,
                     std::unordered_map<std::string, caf::actor, string_hash, std::equal_to<>>>
      live;
  std::vector<ticket_ptr> scratch;

  static inline const char* name = "sluice.router";
};

caf::behavior router_actor(caf::stateful_actor<router_state>* self, command_bus* bus, journal* sink,
                           counters* stats);

} // namespace sluice::actors

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(sluice::actors::dormant_ptr)
