// Where each aggregate's events are in the log: aggregate id → positions,
// ascending. Serves GET /v1/aggregates/{id}/events without scanning the log.
// Fed by recovery and by the journal once events are durable; 8 bytes per
// event plus the id per aggregate. Sharded by id so writers and readers
// rarely meet on a lock.
#pragma once

#include "base/flat_string_map.h"
#include "base/small_vector.h"
#include "base/string_hash.h"

#include <array>
#include <atomic>
#include <memory>
#include <cstdint>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace sluice::domain {
class aggregate_type;
}

namespace sluice::engine {

class aggregate_index {
 public:
  struct indexed {
    std::string_view id;
    uint64_t position;
    uint64_t version; ///< of the aggregate, 1-based
  };
  /// `position` must be above every position added before for `id`. The
  /// first event added for an id that has none sets how many of its
  /// events came before (they are in no retained segment).
  void add(std::string_view id, uint64_t position, uint64_t version);
  /// The same for many, taking each shard's lock once.
  void add(std::span<const indexed> entries);

  /// Up to `limit` positions of `id`'s retained events from version
  /// `skip` + 1 on; `total` gets how many events it has in all, `dropped`
  /// (if given) how many of the first ones are no longer in the log.
  std::vector<uint64_t> positions(std::string_view id, size_t skip, size_t limit, size_t& total,
                                  size_t* dropped = nullptr) const;

  /// The position of event `version` (1-based) of `id`, or 0 if not indexed.
  uint64_t position(std::string_view id, uint64_t version) const;

  /// True if event `version` of `id` was durable and retention has deleted it.
  bool deleted(std::string_view id, uint64_t version) const;

  /// Where the newest snapshot of `id` is (SPEC §9), and its version.
  struct snapshot_entry {
    uint64_t ref = 0; ///< log::snapshot_ref; 0: none
    uint64_t version = 0;
  };
  /// Records a snapshot of `id` unless one of a later version is recorded.
  void set_snapshot(std::string_view id, snapshot_entry s);
  /// Forgets the snapshot of `id` if it is still `ref` (it was refused).
  void drop_snapshot(std::string_view id, uint64_t ref);

  /// What re-activating `id` needs: its snapshot and every retained
  /// position; positions[i] is the event of version dropped + i + 1.
  struct history {
    snapshot_entry snapshot;
    std::vector<uint64_t> positions;
    uint64_t dropped = 0;
  };
  history history_of(std::string_view id) const;

  /// Aggregates with at least one event or snapshot.
  size_t size() const { return size_.load(std::memory_order_relaxed); }

  /// Checkpoints (SPEC §9): appends every entry's positions up to
  /// `position` (and how many came before them) to `out`, each shard
  /// locked in turn; entries with neither are left out.
  void save(std::string& out, uint64_t position) const;
  /// Adds what save() wrote to an index that holds no positions yet
  /// (snapshots may be recorded). False if `in` does not decode; the
  /// index may then hold part of it and is to be discarded.
  bool load(std::string_view in);
  /// Forgets every position (a checkpoint that failed to load); entries
  /// with a snapshot stay.
  void clear_positions();
  /// After a replay of a log retention cut, with no index checkpoint: an
  /// aggregate known only by its snapshot has every event before the log's
  /// start, and its snapshot covers them all (retention made sure).
  void settle_dropped();

  /// Retention: forgets the positions below `first` (deleted segments),
  /// counting them as dropped. Returns how many positions it forgot.
  uint64_t forget_before(uint64_t first);

  /// Calls `visit(id, snapshot, dropped, positions)` for each entry, each
  /// shard locked in turn (not to be used for anything slow).
  template <class F>
  void for_each(F&& visit) const {
    for (auto& s : shards_) {
      std::lock_guard lk(s.mu);
      s.map.for_each([&](std::string_view id, const entry& e) {
        visit(id, e.snapshot, e.dropped, std::span<const uint64_t>(e.positions));
      });
    }
  }

 private:
  struct entry {
    small_vector<uint64_t, 3> positions; ///< inline for an aggregate of three events (no heap block)
    snapshot_entry snapshot;
    uint64_t dropped = 0; ///< the aggregate's first events, in no retained segment
  };
  struct shard {
    mutable std::mutex mu;
    flat_string_map<entry> map;
  };
  static constexpr size_t k_shards = 16;

  static uint64_t hash(std::string_view id) { return string_hash{}(id); }
  shard& shard_of(uint64_t h) const { return shards_[h % k_shards]; }
  void insert(shard& s, std::string_view id, uint64_t h, uint64_t position, uint64_t version); // s.mu held
  entry& find_or_add(shard& s, std::string_view id, uint64_t h);                               // s.mu held

  mutable std::array<shard, k_shards> shards_;
  std::atomic<size_t> size_{0};
};

/// One aggregate_index per aggregate type, so that ids two types share
/// stay apart.
class history_index {
 public:
  explicit history_index(std::span<const domain::aggregate_type* const> types);

  struct indexed_event {
    const domain::aggregate_type* type;
    std::string_view id;
    uint64_t position;
    uint64_t version;
  };
  /// Adds a group commit's events, each type's shards locked once.
  void add(std::span<const indexed_event> events);

  /// The index of `type` (one of those given at construction).
  aggregate_index& of(const domain::aggregate_type* type);
  const aggregate_index& of(const domain::aggregate_type* type) const;

  std::span<const domain::aggregate_type* const> types() const { return types_; }

  /// Aggregates known, of every type.
  size_t size() const;

  /// Checkpoints of every type's index (see aggregate_index::save).
  void save(std::string& out, uint64_t position) const;
  bool load(std::string_view in);
  void clear_positions();
  void settle_dropped();
  uint64_t forget_before(uint64_t first);

 private:
  std::vector<const domain::aggregate_type*> types_;
  std::vector<std::unique_ptr<aggregate_index>> indexes_;
};

} // namespace sluice::engine
