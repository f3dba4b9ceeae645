// One actor per shard of one view: applies every durable batch (keeping the
// keys it owns), answers reads of its keys — waiting, bounded, for a
// min_position — and contributes its keys to listings.
#pragma once

#include "actors/messages.h"
#include "base/string_hash.h"
#include "views/view_shard.h"

#include <map>
#include <unordered_map>

namespace sluice::actors {

struct projection_state {
  std::unique_ptr<views::view_shard> shard;
  std::multimap<uint64_t, std::pair<uint64_t, read_ptr>> waiting; ///< min_position → (id, read)
  uint64_t next_wait_id = 0;
  std::vector<views::view_change> changes; ///< scratch
  string_map<std::vector<std::shared_ptr<engine::view_feed>>> key_feeds;
  std::vector<std::shared_ptr<engine::view_feed>> all_feeds; ///< subscribed with "*"
  std::atomic<uint64_t>* applied_out = nullptr;

  void apply(const views::event_batch& b);
  void read(read_ptr r, caf::stateful_actor<projection_state>* self);
  void timeout(uint64_t id);
  void list(const list_ptr& l);
  void subscribe(const std::string& key, const std::shared_ptr<engine::view_feed>& feed);
  void notify();

  static inline const char* name = "sluice.projection";
};

/// `applied` (owned by the runtime, outliving the actor) mirrors the shard's
/// applied position for /metrics.
caf::behavior projection_actor(caf::stateful_actor<projection_state>* self, views::view_shard* shard,
                               std::atomic<uint64_t>* applied);

} // namespace sluice::actors
