// The router: drains the command bus and hands each command to its
// aggregate's actor, spawning it (from its recovered state, if any) on the
// aggregate's first command. Its aggregates live as long as it does; when
// it exits, it takes them with it.
#pragma once

#include "actors/actor_table.h"
#include "actors/command_bus.h"
#include "actors/counters.h"
#include "actors/journal.h"
#include "base/string_hash.h"
#include "domain/aggregate.h"

#include <memory>
#include <string>
#include <unordered_map>

namespace sluice::actors {

/// Aggregates rebuilt by recovery, by type and id, not yet given an actor.
using dormant_aggregates =
    std::unordered_map<const domain::aggregate_type*, string_map<std::unique_ptr<domain::aggregate>>>;
using dormant_ptr = std::shared_ptr<dormant_aggregates>;

struct router_state {
  command_bus* bus = nullptr;
  journal* sink = nullptr;
  counters* stats = nullptr;
  dormant_aggregates dormant;
  actor_table live;
  std::vector<ticket_ptr> scratch;
  /// This drain's chains: one per aggregate, sent when the drain ends.
  struct chain {
    caf::actor* actor; ///< into `live`: valid until its next insert
    ticket_ptr head;
    ticket* tail;
  };
  std::vector<chain> chains;
  uint32_t round = 0;

  static inline const char* name = "sluice.router";
};

caf::behavior router_actor(caf::stateful_actor<router_state>* self, command_bus* bus, journal* sink,
                           counters* stats);

} // namespace sluice::actors

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(sluice::actors::dormant_ptr)
