// The database of record behind an interface: what the engine, the journal,
// recovery, the event feed, the HTTP front end and the tools need of it.
//
// Architecture: a store is an ordered sequence of records, each with a
// global position (1, 2, 3 … with no gaps; SPEC §1) given when its group is
// appended. The segmented local log (event_log.h) is the first
// implementation; a replicated log (SPEC §14) is another. Callers never
// learn which one they talk to: positions, durability, retention and
// health mean the same thing behind every implementation, as
// tests/log/store_conformance.h checks.
#pragma once

#include "base/duration_histogram.h"
#include "log/errc.h"
#include "log/record.h"
#include "log/write_batch.h"

#include <chrono>
#include <cstdint>
#include <expected>
#include <functional>
#include <vector>

namespace sluice::log {

/// Positions an append was given: first..last inclusive.
struct append_result {
  uint64_t first = 0;
  uint64_t last = 0;
};

using append_callback = std::move_only_function<void(std::expected<append_result, error>)>;

/// A unit of retention (a segment file of the local log): retention removes
/// whole units, oldest first.
struct segment_info {
  uint64_t base = 0;          ///< position of its first record
  uint64_t last_position = 0; ///< of its last record
  uint64_t bytes = 0;
  std::chrono::system_clock::time_point closed_at; ///< when it stopped growing
};

/// The database of record. Every member is thread-safe unless it says
/// otherwise. A store outlives every reader and appender it serves.
class store {
 public:
  virtual ~store() = default;

  /// Queues `batch` as one group: its records get consecutive positions
  /// after every group appended before it, and all of them or none become
  /// durable. `done` runs exactly once and must not block nor append: on
  /// the caller's thread, before append() returns, when the store refuses
  /// at once (closed, a group past max_group_bytes()); otherwise on a thread of the store, in append order,
  /// once the group is durable (per the store's durability) or has failed.
  /// Errors: closed (after close()), no_space (unavailable(): the disk is
  /// full), failed (an earlier write or sync failed), io_error,
  /// invalid_argument (a record too large). An empty batch completes with
  /// first = last + 1 = the next position.
  virtual void append(write_batch batch, append_callback done) = 0;

  /// The largest group append() takes, in write_batch::bytes(): a larger
  /// one fails at once with invalid_argument (nothing stored). Group
  /// commits are split below it; a command's events never are.
  virtual size_t max_group_bytes() const { return SIZE_MAX; }

  /// append() and wait for its outcome. Not from a callback of the store.
  std::expected<append_result, error> append_and_wait(write_batch batch);

  /// Calls `visit` for each durable record with position ≥ `from`, in
  /// position order, until it returns false or `max_records` were visited.
  /// A `from` below first_position() starts there. Returns the position
  /// after the last record visited (`from` when none). Concurrent with
  /// appends; a record is visible once its group is durable, never before.
  /// Errors: io_error, corrupt.
  virtual std::expected<uint64_t, error> read(uint64_t from, size_t max_records,
                                              const std::function<bool(const record&)>& visit) const = 0;

  /// Position of the last durable record; 0 when the store is empty.
  virtual uint64_t last_position() const = 0;

  /// The first position still held: 1, or where retention cut.
  virtual uint64_t first_position() const = 0;

  /// Units of retention, oldest first; the last is the one being written.
  virtual std::vector<segment_info> segments() const = 0;

  /// Retention: removes the units before `base` (the base of a unit other
  /// than the first and the last; otherwise nothing). first_position()
  /// moves to `base` before anything is removed, durably. Readers of a
  /// removed unit finish their read. Returns the bytes removed. Errors:
  /// io_error.
  virtual std::expected<uint64_t, error> delete_before(uint64_t base) = 0;

  /// Called on a thread of the store each time a unit of retention is
  /// closed (must not block); set before the first append. Not thread-safe.
  virtual void on_segment_closed(std::function<void()> f) = 0;

  /// Called with the positions of each group another writer appended (a
  /// store shared by several nodes, SPEC §14) once read() returns them, on
  /// a thread of the store, in position order with the completions of this
  /// store's own appends (must not block for long). Set before the first
  /// append; not thread-safe. A store with one writer never calls it.
  virtual void on_foreign(std::function<void(append_result)> f) = 0;

  /// Stops taking appends (later ones fail with closed), completes what is
  /// queued, and stops the store's threads. Idempotent.
  virtual void close() = 0;

  /// True after a write or sync failed: appends fail until a restart.
  virtual bool failed() const = 0;

  /// True while appends fail with no_space at once (the disk is full).
  virtual bool unavailable() const = 0;

  /// Clears unavailable() if there is room again (at least `min_free`
  /// bytes); true if the store takes appends now. The caller makes sure
  /// nothing decided on top of the failed appends is still queued.
  virtual bool resume(uint64_t min_free = 1 << 20) = 0;

  /// Metrics: groups made durable, records appended, and how long each
  /// group took to become durable.
  virtual uint64_t syncs() const = 0;
  virtual uint64_t appended_records() const = 0;
  virtual const duration_histogram& sync_durations() const = 0;
};

} // namespace sluice::log
