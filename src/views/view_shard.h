// One shard of one view: a projector's model, the keys it holds in byte
// order with the position that last changed each, and the changes each batch
// makes. Values are rendered when asked for (a read, a listing, a
// subscriber), not on every change: the write path pays for no JSON nobody
// reads, and the shard holds no second copy of its model as text.
#pragma once

#include "base/flat_string_map.h"
#include "base/string_hash.h"
#include "views/error_log.h"
#include "views/event_batch.h"
#include "views/projector.h"

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace sluice::views {

/// A key a batch changed; `position` is the last event of the batch that
/// changed it. `key` stays valid as long as the shard does.
struct view_change {
  std::string_view key;
  uint64_t position = 0;
};

/// A key whose events a batch or a replay parked (SPEC §10): the
/// sequence's first parked event and why it failed.
struct view_park {
  std::string_view key;
  uint64_t position = 0;
  std::string error;
};

/// How a shard treats events its projector cannot apply (SPEC §10).
struct error_policy {
  error_log* log = nullptr; ///< durable record; null: in memory only
  std::string drill_prefix; ///< with `drill`: every key starting with it fails
  bool drill = false;
  bool keep_parked = false; ///< keys parked by an earlier run stay parked at start, untried
};

/// Not thread-safe: owned by one projection actor (or a test).
class view_shard {
 public:
  struct entry {
    std::shared_ptr<const std::string> value; ///< JSON, shared with readers and subscribers; null: never applied
    uint64_t changed_at = 0;
    uint64_t parked = 0; ///< events of the key in the error log
  };

  /// One key's parked sequence, for the admin API.
  struct parked_item {
    std::string key;
    error_log::parked info;
    uint64_t events = 0;
  };

  explicit view_shard(std::unique_ptr<projector> p) : projector_(std::move(p)) {}

  /// Applies the events of `batch` above applied() and appends one change
  /// per key they changed, in first-change order (changes within one group
  /// commit are conflated).
  void apply(const event_batch& batch, std::vector<view_change>& changes);
  /// Same, and appends one entry to `parks` per key it parked.
  void apply(const event_batch& batch, std::vector<view_change>& changes, std::vector<view_park>& parks);

  void set_errors(error_policy p) { errors_ = std::move(p); }
  const error_policy& errors() const { return errors_; }
  /// Events parked, in all keys.
  uint64_t parked_events() const { return parked_events_; }
  size_t parked_keys() const { return parked_.size(); }
  /// Up to `limit` parked keys after `after`, in byte order.
  void parked_list(std::string_view after, size_t limit, std::vector<parked_item>& out) const;
  /// Retries the parked sequence of `key` (every key if empty), in position
  /// order: what applies leaves the error log and its changes are appended;
  /// what fails again stays. Returns {keys replayed whole, keys still parked}.
  std::pair<size_t, size_t> replay(std::string_view key, std::vector<view_change>& changes,
                                   std::vector<view_park>& parks);
  /// Drops the parked events of `key` (the key keeps its last good value);
  /// returns how many (0: nothing parked).
  uint64_t skip(std::string_view key);

  /// Every event up to this position is reflected.
  uint64_t applied() const { return applied_; }

  /// The key's current value, or nothing if the key does not exist.
  std::optional<entry> find(std::string_view key) const;

  /// The current JSON of `key`, a key this shard reported changed.
  std::shared_ptr<const std::string> render(std::string_view key) const;

  /// Up to `limit` entries with keys after `after` in byte order.
  void list(std::string_view after, size_t limit, std::vector<std::pair<std::string, entry>>& out) const;

  size_t size() const { return keys_.size(); }

  /// Checkpoints (SPEC §9): whether the projector takes them, and its layout.
  uint64_t checkpoint_fingerprint() const { return projector_->checkpoint_fingerprint(); }

  /// Appends the keys, their positions and the projector's model to `out`;
  /// the shard reflects exactly the events up to applied().
  void save(std::string& out) const;

  /// Replaces a fresh shard's content with what save() wrote at `position`;
  /// false, the shard left fresh, if `in` does not decode.
  bool load(std::string_view in, uint64_t position, std::unique_ptr<projector> fresh);

 private:
  class stamping_sink;
  struct key_state {
    uint64_t changed_at = 0;
  };
  using key_map = flat_string_map<key_state>;

  /// Brings `sorted_` up to date with the keys added since it last was.
  void sort_keys() const;

  struct parked_seq {
    error_log::parked info;
    std::unique_ptr<event_batch> events; ///< in position order
  };
  /// Applies one event of `key`, or parks it; false if it was parked.
  bool apply_one(const log::record& r, std::string_view key, stamping_sink& sink, std::vector<view_park>& parks);
  void park(const log::record& r, std::string_view key, std::string error, std::vector<view_park>& parks);
  std::expected<bool, std::string> try_apply(const log::record& r, std::string_view key);

  std::unique_ptr<projector> projector_;
  error_policy errors_;
  std::map<std::string, parked_seq, std::less<>> parked_; ///< ordered: the admin API lists by key
  uint64_t parked_events_ = 0;
  key_map keys_; ///< a hash map: every event finds its key here, listings are rarer
  // Keys in byte order for listings, kept lazily: new keys wait in `fresh_`
  // and are merged in by the next listing. Entries of `keys_` never move.
  mutable std::vector<const key_map::node*> sorted_, fresh_;
  uint64_t applied_ = 0;
};

} // namespace sluice::views
