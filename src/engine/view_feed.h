// The buffer between the projections and one view subscriber.
//
// Delivers, in order: one `subscribed`, a snapshot of the key (or of every
// key, for "*"), then changes; after a swap of the view's version, a
// rebuilt snapshot of each key, then its changes. Memory is bounded by the keys subscribed to:
// an unsent change of a key is replaced by a newer one (conflation), so a
// slow subscriber sees every key's latest value, never an unbounded backlog.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace sluice::engine {

enum class item_kind {
  subscribed,
  snapshot,
  change,
  rebuilt, ///< a snapshot after the view's version was swapped (SPEC §10)
  parked,  ///< the key's events are parked from `position` on; `error` says why
};

struct feed_item {
  item_kind kind = item_kind::change;
  std::string key;
  std::shared_ptr<const std::string> value; ///< JSON; null in a snapshot of a key that does not exist
  uint64_t position = 0; ///< subscribed/snapshot: the applied position; change: the event that caused it
  std::string error;     ///< parked
};

/// Thread-safe. The projection shards write; one subscriber reads.
class view_feed {
 public:
  /// `wake` runs on an engine thread whenever items become available after
  /// take() had emptied the feed; it must not block. `shards`: how many
  /// shards will call registered() (1 for one key, every shard for "*").
  view_feed(std::function<void()> wake, size_t shards) : wake_(std::move(wake)), shards_left_(shards) {}

  // Engine side.
  void snapshot(std::string key, std::shared_ptr<const std::string> value, uint64_t position);
  /// A shard has sent its snapshot at `position` and will send changes after it.
  void registered(uint64_t position);
  void change(const std::string& key, std::shared_ptr<const std::string> value, uint64_t position);
  /// The key's value in the version that took over; it replaces a change of
  /// the key not yet taken (of the older version), and changes of the key
  /// conflated into it keep it a rebuilt snapshot.
  void rebuilt(const std::string& key, std::shared_ptr<const std::string> value, uint64_t position);
  /// The key's events are parked from `position` on (a change of the key
  /// after a replay replaces it).
  void parked(const std::string& key, uint64_t position, std::string error);
  bool closed() const { return closed_.load(std::memory_order_acquire); }

  // Subscriber side.
  /// Moves up to `max` items into `out`; none until every shard registered.
  size_t take(std::vector<feed_item>& out, size_t max);
  /// The subscriber is gone: shards drop the feed at their next change.
  void close() { closed_.store(true, std::memory_order_release); }
  /// Changes replaced by a newer one before they were taken.
  uint64_t conflated() const { return conflated_.load(std::memory_order_relaxed); }
  /// Changes conflated by every feed of the process, for /metrics.
  static uint64_t conflated_total();
  /// Keys with a pending change (bounded by the keys subscribed to).
  size_t pending() const;

 private:
  void maybe_wake(std::unique_lock<std::mutex>& lk);

  std::function<void()> wake_;
  mutable std::mutex mu_;
  size_t shards_left_;
  uint64_t subscribed_at_ = UINT64_MAX;
  bool announced_ = false; ///< `subscribed` was taken
  std::vector<feed_item> snapshots_;
  size_t snapshots_taken_ = 0;
  std::unordered_map<std::string, feed_item> changes_;
  std::deque<std::string> order_; ///< keys of changes_, oldest first
  bool waiting_ = true;           ///< the subscriber found nothing last time: wake on the next item
  std::atomic<bool> closed_{false};
  std::atomic<uint64_t> conflated_{0};
};

} // namespace sluice::engine
