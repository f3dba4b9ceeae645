// The journal: takes accepted events from every aggregate actor, appends
// them to the event log in group commits, and once durable answers the
// commands and publishes the events, in position order, to the projections.
//
// Aggregates push under a short lock into one FIFO; the first push into an
// idle journal sends it one `drain` message, so a busy journal costs one
// message per batch, not per command. (Not a lock-free queue: those are
// FIFO per producer thread only, and an aggregate actor moves between
// scheduler threads, so its versions could overtake each other.)
#pragma once

#include "actors/counters.h"
#include "actors/messages.h"
#include "engine/aggregate_index.h"
#include "log/store.h"
#include "log/snapshot_store.h"

#include <functional>
#include <map>
#include <mutex>
#include <vector>

namespace sluice::actors {

class journal {
 public:
  /// One accepted command's events.
  struct entry {
    ticket_ptr t;
    domain::outcome outcome;
    domain::event_list events;
  };

  journal(log::store& log, counters& stats, engine::history_index& index) : log_(log), stats_(stats), index_(index) {}

  /// Where drain messages go; set once before the first push.
  void bind(caf::actor self, std::vector<caf::actor> projections) {
    self_ = std::move(self);
    projections_ = std::move(projections);
  }

  /// Projections that get every batch published from now on (a view
  /// version that builds, SPEC §10). Returns the last position published
  /// before them: they get every batch after it. Thread-safe.
  uint64_t add_projections(const std::vector<caf::actor>& shards);
  /// Projections that get nothing more (a version retired). Returns the
  /// last position they were sent. Thread-safe.
  uint64_t remove_projections(const std::vector<caf::actor>& shards);

  /// Moves `entries` (left empty) to the queue. Thread-safe; entries of
  /// one aggregate stay in push order.
  void push(std::vector<entry>& entries);

  /// Moves queued entries into one log append. Returns true if the queue
  /// may hold more (the caller drains again). Journal actor only.
  bool drain();

  /// The position of event `version` of aggregate (`type`, `id`) once it
  /// is durable (indexed before its command is answered), else 0. Thread-safe.
  uint64_t durable_position(const domain::aggregate_type& type, std::string_view id, uint64_t version) const {
    return index_.of(&type).position(id, version);
  }

  /// True if event `version` was durable and retention has deleted it.
  bool deleted(const domain::aggregate_type& type, std::string_view id, uint64_t version) const {
    return index_.of(&type).deleted(id, version);
  }

  /// Every durable event up to here is in the history index (checkpoints
  /// of the index are taken at or below it). Thread-safe.
  uint64_t indexed_to() const { return indexed_to_.load(std::memory_order_acquire); }
  void set_indexed_to(uint64_t p) { indexed_to_.store(p, std::memory_order_release); }

  /// True once the log refuses appends (nothing more becomes durable).
  bool failed() const { return log_.failed(); }

  /// True while appends fail on a full disk (see take_stale()).
  bool unavailable() const { return log_.unavailable(); }

  /// Called on the log's thread when an append failed on a full disk;
  /// set once before the first push.
  void on_unavailable(std::function<void()> f) { on_unavailable_ = std::move(f); }

  /// Called on the log's thread with the aggregates whose accepted
  /// commands the log refused without storing them (another writer fenced
  /// them, SPEC §14; a command past max_group_bytes()): their state is
  /// ahead of the log. Set once before the first push.
  void on_refused(std::function<void(std::vector<std::pair<const domain::aggregate_type*, std::string>>)> f) {
    on_refused_ = std::move(f);
  }

  /// The aggregates whose accepted commands failed on a full disk since
  /// the last call: their state is ahead of the log. Thread-safe.
  std::vector<std::pair<const domain::aggregate_type*, std::string>> take_stale();

  /// Where aggregate snapshots go (SPEC §9), and every how many events
  /// one is taken (0: only at passivation); set once before the first push.
  void attach_snapshots(log::snapshot_store* store, uint64_t every) {
    snapshots_ = store;
    snapshot_every_ = every;
  }
  uint64_t snapshot_every() const { return snapshots_ ? snapshot_every_ : 0; }

  /// Hands a snapshot of `a` at `version` (durable, its event at
  /// `position`) to the snapshot writer. False if not taken (no store, the
  /// type has no field list, the writer's queue is full). Thread-safe.
  bool save_snapshot(const domain::aggregate& a, uint64_t version, uint64_t position, std::string body) const;
  bool snapshots_enabled(const domain::aggregate_type& type) const {
    return snapshots_ && type.state_fingerprint() != 0;
  }

  /// Rebuilds `a` (state, version, window) from its newest usable snapshot
  /// and the events after it, or from every event in the log; a snapshot
  /// that cannot be used is counted, forgotten and passed over. False if
  /// the log cannot be read or its events do not apply. `from_snapshot`
  /// gets the version of the snapshot used (0: none). Thread-safe.
  bool replay(domain::aggregate& a, uint64_t* from_snapshot = nullptr) const;

  /// The position of the last event of `cmd`, a repeat that `live` knows
  /// without its position, whose events retention has deleted: the
  /// snapshot retention took first knows it. 0 if that cannot be read.
  uint64_t deleted_position(const domain::aggregate& live, const domain::command& cmd) const;

  /// Publishes recovered events to the projections (recovery only).
  void publish(const batch_ptr& b);

  /// Listeners called after each durable group commit (event streams). Thread-safe.
  uint64_t add_listener(std::function<void()> wake);
  void remove_listener(uint64_t id);

 private:
  void complete(std::vector<entry>& entries, int64_t time_us, std::expected<log::append_result, log::error> r);

  log::store& log_;
  counters& stats_;
  engine::history_index& index_;
  log::snapshot_store* snapshots_ = nullptr;
  uint64_t snapshot_every_ = 0;
  std::vector<engine::history_index::indexed_event> indexed_; ///< scratch of complete()
  std::atomic<uint64_t> indexed_to_{0};
  caf::actor self_;
  std::mutex projections_mu_; ///< publish() against add/remove_projections()
  std::vector<caf::actor> projections_;
  uint64_t published_to_ = 0;
  std::mutex listeners_mu_;
  std::map<uint64_t, std::function<void()>> listeners_;
  uint64_t next_listener_ = 1;

  std::function<void()> on_unavailable_;
  std::function<void(std::vector<std::pair<const domain::aggregate_type*, std::string>>)> on_refused_;
  std::mutex stale_mu_;
  std::vector<std::pair<const domain::aggregate_type*, std::string>> stale_;

  std::mutex mu_;
  std::vector<entry> queue_;
  bool scheduled_ = false; ///< a drain message is on its way or running
};

/// The journal's actor: drains on each `drain` message.
caf::behavior journal_actor(caf::event_based_actor* self, journal* j);

} // namespace sluice::actors
