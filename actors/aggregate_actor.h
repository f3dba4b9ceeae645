// One actor per live aggregate: decides its commands one at a time. It
// does not wait for the disk between commands (the journal answers accepted
// ones once durable). A repeat of an accepted command answers with the
// original's position, which the history index has once it is durable: a
// repeat of a command still on its way to the disk waits, re-checking.
#pragma once

#include "actors/counters.h"
#include "actors/journal.h"
#include "actors/messages.h"
#include "domain/aggregate.h"

#include <memory>
#include <vector>

namespace sluice::actors {

struct aggregate_actor_state {
  // Kept small: there is one per live aggregate (CAF's actor is ~1.2 KB of it).
  std::unique_ptr<domain::aggregate> aggregate;
  journal* sink = nullptr;
  counters* stats = nullptr;
  /// Repeats awaiting the original's durability; allocated when one does.
  std::unique_ptr<std::vector<ticket_ptr>> parked;
  /// A snapshot taken every `snapshot_every` events, held until its
  /// version is durable (a snapshot never covers an event that is not).
  struct pending_snapshot {
    uint64_t version;
    std::string body;
  };
  std::unique_ptr<pending_snapshot> pending;
  uint64_t snapshot_version = 0; ///< of the newest snapshot written or loaded
  bool loaded = false;           ///< rebuilt from its snapshot and the log
  uint64_t loaded_version = 0;   ///< its version then: every event up to it is durable

  /// Rebuilds the aggregate before its first command; false if the log
  /// cannot give its events (the commands are answered `failed`).
  bool load();

  /// Takes a snapshot when due and writes one whose version is durable.
  void snapshot_if_due();
  /// Gives the window entries up to version `up_to` their positions (see
  /// domain::aggregate::settle) before a snapshot is written.
  void settle_window(uint64_t up_to);

  /// Decides one command; answers it now unless it waits (then parked: the
  /// caller schedules a recheck) or is accepted (then appended to
  /// `accepted`, for the journal).
  void handle(ticket_ptr t, std::vector<journal::entry>& accepted);

  static inline const char* name = "sluice.aggregate";
};

/// Adopts `aggregate` (owned from now on; rebuilt at its first command).
caf::behavior aggregate_actor(caf::stateful_actor<aggregate_actor_state>* self, domain::aggregate* aggregate,
                              journal* sink, counters* stats);

/// Answers `t` with a finished outcome and counts it.
void answer(ticket& t, const domain::outcome& o, counters& stats);

} // namespace sluice::actors
