// The router: drains the command bus and hands each command to its
// aggregate's actor, spawning it on the aggregate's first command (the
// actor rebuilds itself from its snapshot and the log). Once a second it
// passivates the aggregates idle for longer than `passivate_after`, and the
// least recently used beyond `max_live` (SPEC §9). When it exits, it takes
// its live aggregates with it.
#pragma once

#include "actors/actor_table.h"
#include "actors/command_bus.h"
#include "actors/counters.h"
#include "actors/journal.h"
#include "base/string_hash.h"
#include "domain/aggregate.h"

#include <chrono>
#include <memory>
#include <string>
#include <unordered_map>

namespace sluice::actors {

struct router_options {
  std::chrono::milliseconds passivate_after{60'000}; ///< 0: never for idleness
  size_t max_live = 1'000'000;                       ///< live actors beyond it are passivated, oldest first
  std::chrono::milliseconds tick{1000};              ///< how often both are looked at
};

struct router_state {
  command_bus* bus = nullptr;
  journal* sink = nullptr;
  counters* stats = nullptr;
  router_options opts;
  actor_table live;
  size_t passivating = 0; ///< slots asked to passivate, not yet answered
  std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
  uint32_t clock = 0; ///< 10 ms steps since started, read at each drain
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

caf::behavior router_actor(caf::stateful_actor<router_state>* self, command_bus* bus, journal* sink, counters* stats,
                           router_options opts);

} // namespace sluice::actors
