// One shard of one view: a projector's model plus each key's rendered value,
// the position it reflects, and the changes each batch makes.
#pragma once

#include "views/event_batch.h"
#include "views/projector.h"

#include <map>
#include <memory>
#include <string>
#include <vector>

namespace sluice::views {

/// A key's new value after a batch; `position` is the last event that changed it.
struct view_change {
  std::string key;
  std::shared_ptr<const std::string> value; ///< JSON, shared with readers and subscribers
  uint64_t position = 0;
};

/// Not thread-safe: owned by one projection actor (or a test).
class view_shard {
 public:
  struct entry {
    std::shared_ptr<const std::string> value; ///< JSON
    uint64_t changed_at = 0;
  };

  explicit view_shard(std::unique_ptr<projector> p) : projector_(std::move(p)) {}

  /// Applies the events of `batch` above applied(), then renders every key
  /// they changed once and appends one change per key (the latest value of
  /// the batch: changes within one group commit are conflated).
  void apply(const event_batch& batch, std::vector<view_change>& changes);

  /// Every event up to this position is reflected.
  uint64_t applied() const { return applied_; }

  /// The key's entry, or null if the key does not exist.
  const entry* find(std::string_view key) const;

  /// Up to `limit` entries with keys after `after` in byte order.
  void list(std::string_view after, size_t limit, std::vector<std::pair<std::string, entry>>& out) const;

  size_t size() const { return entries_.size(); }

 private:
  std::unique_ptr<projector> projector_;
  std::map<std::string, entry, std::less<>> entries_;
  uint64_t applied_ = 0;
};

} // namespace sluice::views
