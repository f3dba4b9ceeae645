// One aggregate instance: its state, version and recent command ids — the
// write side's unit of consistency, free of threads and actors. The actor
// runtime hosts one per live aggregate; recovery and tests drive it directly.
#pragma once

#include "base/short_string.h"
#include "domain/aggregate_type.h"
#include "log/record.h"

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace sluice::domain {

/// How many accepted command ids an aggregate remembers (SPEC §4).
inline constexpr size_t k_idempotency_window = 1000;

/// The outcome of one command against one aggregate.
struct outcome {
  enum class kind {
    accepted,  ///< events were decided; `version` is the aggregate's new version
    duplicate, ///< command_id seen among the last 1,000 accepted; the original's figures
    conflict,  ///< expected_version differs; `version` is the actual version
    rejected,  ///< a business rule refused it; `message` says which
  };
  kind result = kind::rejected;
  uint64_t version = 0;
  uint64_t position = 0; ///< duplicate: position of the original's last event (0 until durable() recorded it)
  uint32_t events = 0;   ///< accepted/duplicate: number of events
  std::string message;
};

/// Not thread-safe: one owner (an actor, or recovery) at a time.
class aggregate {
 public:
  aggregate(const aggregate_type& type, std::string id);

  const aggregate_type& type() const { return *type_; }
  const std::string& id() const { return id_; }
  uint64_t version() const { return version_; }
  const aggregate_state& state() const { return *state_; }

  /// Decides `cmd` (whose type and id must be this aggregate's: another's is
  /// rejected, naming both, and changes nothing). Accepted:
  /// appends the new events to `out`, evolves the state and advances the
  /// version at once, so the next command sees them (pipelining); the caller
  /// makes them durable, calls durable(), and must reset() and replay if
  /// that fails. Other outcomes change nothing.
  outcome handle(const command& cmd, event_list& out);

  /// Records the log position of the last event of the accepted command
  /// `command_id` once it is durable, so duplicates can answer with it.
  void durable(std::string_view command_id, uint64_t last_position);

  /// Position recorded by durable() for an accepted command in the window; 0 if none yet.
  uint64_t durable_position(std::string_view command_id) const {
    auto* seen = find(command_id, id_hash(command_id));
    return seen ? seen->last_position : 0;
  }

  /// Applies one durable record (recovery). False if the record is not the
  /// next version or its type/data are unknown.
  bool apply(const log::record& r);

  /// Forgets state, version and window (before replaying from the log).
  void reset();

  /// The body of a snapshot (SPEC §9): version, the idempotency window
  /// oldest first, then the state's binary form. Only for a type with a
  /// state fingerprint.
  void encode_snapshot(std::string& out) const;

  /// Fills the window entries of a snapshot `body` that have no position
  /// yet (taken before their events were durable) with
  /// `position_of(last_version)`; 0 leaves one as it is. Once retention has
  /// deleted those events, the body is the only place that knows where they
  /// were. False if the body does not decode.
  static bool settle_positions(std::string& body, const std::function<uint64_t(uint64_t)>& position_of);

  /// The same for this aggregate's own window, for entries of versions up
  /// to `up_to` (durable): a later snapshot then carries their positions
  /// even after retention has taken them out of the history index.
  void settle(uint64_t up_to, const std::function<uint64_t(uint64_t)>& position_of);

  /// Replaces state, version and window by those of a snapshot body.
  /// False, and reset(), if it does not decode.
  bool restore(std::string_view body);

  /// Bytes held, for memory accounting.
  size_t footprint() const;

 private:
  struct seen_command {
    short_string id; ///< inline up to 40 bytes: no allocation per command
    uint64_t last_version = 0;
    uint64_t last_position = 0;
    uint32_t events = 0;
    uint32_t hash = 0;
  };

  static uint32_t id_hash(std::string_view command_id);
  // Both take the id's id_hash(): a command that is looked up and then
  // remembered hashes its id once.
  const seen_command* find(std::string_view command_id, uint32_t hash) const;
  void table_insert(size_t slot);
  void table_erase(size_t slot);
  seen_command& remember(std::string_view command_id, uint32_t hash);

  // Allocated with the first command id: most aggregates of a client that
  // sends no ids never need one.
  struct window {
    std::vector<seen_command> ring; ///< the last k_idempotency_window accepted ids
    size_t next = 0;                ///< ring slot to overwrite once full
  };

  const aggregate_type* type_;
  /// The window's ids by hash, linear probing, at most half full; 0: empty.
  /// An entry is (hash >> 16) << 16 | (ring slot + 1): its upper half places
  /// it and screens lookups, so a miss (a new id, the usual case) and the
  /// shifting of an erase read the table alone. Held here, next to the type
  /// and id the router has just compared, not in the window: a lookup goes
  /// from the aggregate straight to its cell, one cache miss, not two.
  std::unique_ptr<uint32_t[]> table_;
  uint32_t table_mask_ = 0; ///< cells - 1, once table_ exists
  std::string id_;
  std::unique_ptr<aggregate_state> state_;
  uint64_t version_ = 0;
  std::unique_ptr<window> window_;
};

} // namespace sluice::domain
