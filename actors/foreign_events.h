// Events other nodes appended to a shared store (SPEC §14): this node
// indexes them, publishes them to its views and event feed, and rebuilds
// the live aggregates they touched, in position order with its own groups,
// so that every view, history and subscription works on every node.
//
// Until recovery is done they are left to it: recovery's replay reads the
// store, then catch_up() reads what came during the replay and from then
// on each group is fed as the store announces it.
#pragma once

#include "actors/journal.h"
#include "actors/messages.h"
#include "domain/registry.h"
#include "engine/aggregate_index.h"
#include "log/store.h"

#include <atomic>
#include <functional>
#include <mutex>

namespace sluice::actors {

class foreign_events {
 public:
  foreign_events(const log::store& log, const domain::registry& types, engine::history_index& index, journal& j,
                 std::function<void(reload_ptr)> reload)
      : log_(log), types_(types), index_(index), journal_(j), reload_(std::move(reload)) {}

  /// The store's announcement (log::store::on_foreign), on its thread.
  void appended(log::append_result at);

  /// Recovery replayed every position before `next`: feeds what the store
  /// holds from there on and every later announcement. Recovery only.
  void catch_up(uint64_t next);

  /// Events of other nodes fed to the views so far.
  uint64_t events() const { return events_.load(std::memory_order_relaxed); }

 private:
  void feed(uint64_t from, uint64_t to);

  const log::store& log_;
  const domain::registry& types_;
  engine::history_index& index_;
  journal& journal_;
  std::function<void(reload_ptr)> reload_;
  std::mutex mu_; ///< the recovery thread's catch_up() against the store's thread
  bool live_ = false;
  uint64_t next_ = 1; ///< the first position not fed
  std::atomic<uint64_t> events_{0};
};

} // namespace sluice::actors
