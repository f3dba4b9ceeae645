// One actor per live aggregate: decides its commands one at a time. It
// does not wait for the disk between commands (the journal answers accepted
// ones once durable); a repeat of a command still on its way to the disk
// waits for the original's position.
#pragma once

#include "actors/counters.h"
#include "actors/journal.h"
#include "actors/messages.h"
#include "domain/aggregate.h"

#include <memory>
#include <unordered_map>

namespace sluice::actors {

struct aggregate_actor_state {
  // Kept small: there is one per live aggregate (CAF's actor is ~1.2 KB of it).
  std::unique_ptr<domain::aggregate> aggregate;
  journal* sink = nullptr;
  counters* stats = nullptr;
  /// Duplicates awaiting the original's durability; allocated when one does.
  std::unique_ptr<std::unordered_multimap<std::string, ticket_ptr>> parked;
  /// Accepted commands with an id whose durable position the window does not
  /// have yet, oldest first (the journal makes one aggregate's commands
  /// durable in order).
  struct pending {
    ticket_ptr t;
    size_t slot;      ///< its entry in the aggregate's window …
    uint64_t version; ///< … while that entry still has this version
  };
  std::vector<pending> undurable;  // a vector: libstdc++'s deque allocates 600 B even when empty

  /// Moves the positions the journal has published into the window.
  void settle();

  /// Decides one command; answers it now unless it waits or is accepted
  /// (then appended to `accepted`, for the journal).
  void handle(ticket_ptr t, const caf::actor& self, std::vector<journal::entry>& accepted);
  /// The original of `command_id` is durable at `position`: repeats waiting for it are decided.
  void durable(const std::string& command_id, uint64_t position, const caf::actor& self,
               std::vector<journal::entry>& accepted);

  static inline const char* name = "sluice.aggregate";
};

/// Adopts `aggregate` (owned from now on).
caf::behavior aggregate_actor(caf::stateful_actor<aggregate_actor_state>* self, domain::aggregate* aggregate,
                              journal* sink, counters* stats);

/// Answers `t` with a finished outcome and counts it.
void answer(ticket& t, const domain::outcome& o, counters& stats);

} // namespace sluice::actors
