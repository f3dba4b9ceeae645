// One actor per shard of one view: applies every durable batch (keeping the
// keys it owns), answers reads of its keys — waiting, bounded, for a
// min_position — and contributes its keys to listings.
#pragma once

#include "actors/messages.h"
#include "base/string_hash.h"
#include "domain/model.h"
#include "log/checkpoint_file.h"
#include "views/view_shard.h"

#include <map>
#include <unordered_map>

namespace sluice::actors {

/// What a projection actor is: which shard of which view, and where its
/// checkpoints go (SPEC §9).
struct projection_config {
  const domain::view_definition* view = nullptr;
  uint32_t shard = 0, shards = 1;
  log::checkpoint_writer* checkpoints = nullptr; ///< null: no checkpoints (none either while building)
  uint64_t checkpoint_every = 0;                 ///< events; 0: only when asked
  uint64_t checkpoint_per_key = 0;               ///< and at least this many events per key held
  std::atomic<uint64_t>* applied = nullptr;      ///< mirrors the shard's position for /metrics
  std::atomic<uint64_t>* rejected = nullptr;     ///< checkpoints refused (sluice_checkpoints_rejected_total)
  /// A version that builds (SPEC §10): it applies the builder's batches
  /// from the log until the journal's are contiguous with them, then
  /// counts itself in `live`. Null for a shard live from the start.
  std::atomic<size_t>* live = nullptr;
  std::atomic<int64_t>* build_in_flight = nullptr; ///< builder batches sent and not yet applied
  std::atomic<uint64_t>* parked = nullptr;         ///< mirrors the shard's parked events for /metrics
  views::error_policy errors;                      ///< the error log of SPEC §10
};

/// What a retired shard hands to the shard of the version that replaced
/// it: its subscribers, each to get a rebuilt snapshot once the new shard
/// is at `floor` (what the old one had applied).
struct handover {
  uint64_t floor = 0;
  std::vector<std::pair<std::string, std::shared_ptr<engine::view_feed>>> feeds; ///< key ("*": every key)
};
using handover_ptr = std::shared_ptr<handover>;

/// Where a build's shards write checkpoints once they serve.
struct checkpoints_ref {
  log::checkpoint_writer* writer = nullptr;
};

struct projection_state {
  std::unique_ptr<views::view_shard> shard;
  std::multimap<uint64_t, std::pair<uint64_t, read_ptr>> waiting; ///< min_position → (id, read)
  uint64_t next_wait_id = 0;
  std::vector<views::view_change> changes; ///< scratch
  std::vector<views::view_park> parks;     ///< scratch
  string_map<std::vector<std::shared_ptr<engine::view_feed>>> key_feeds;
  std::vector<std::shared_ptr<engine::view_feed>> all_feeds; ///< subscribed with "*"
  projection_config cfg;
  uint64_t checkpointed = 0; ///< the position of the last checkpoint loaded or taken

  // Building (cfg.live set): batches of the journal not contiguous with
  // what the builder brought are dropped (the builder reads them from the
  // log); once they are, the shard is live.
  bool building = false;
  uint64_t live_from = UINT64_MAX;     ///< the journal sends every batch after this
  uint64_t live_seen = 0;              ///< the last position of a journal batch dropped
  std::vector<handover_ptr> adopting;  ///< subscribers waiting for the floor
  std::vector<list_ptr> lists_waiting; ///< listings waiting for the floor
  uint64_t floor = 0;                  ///< listings of a version that took over wait for this

  // Retired: every request goes to the shard that replaced this one.
  caf::actor_addr successor;
  uint64_t successor_floor = 0;

  /// A batch of the journal.
  void live(const views::event_batch& b);
  /// A batch of the builder.
  void built(const views::event_batch& b);
  void go_live_if_caught_up();
  void apply(const views::event_batch& b);
  void retire(const caf::actor& next, uint64_t at);
  void adopt(const handover_ptr& h);
  /// Loads the shard's checkpoint if it has a valid one; returns its position (0: none).
  uint64_t restore(uint64_t limit);
  /// Hands a checkpoint of the shard to the writer; returns its position
  /// (0: the view takes none).
  uint64_t checkpoint();
  void read(read_ptr r, caf::stateful_actor<projection_state>* self);
  void timeout(uint64_t id);
  void list(const list_ptr& l);
  void subscribe(const std::string& key, const std::shared_ptr<engine::view_feed>& feed);
  void notify();
  void errors(const errors_ptr& q);
  void act(const error_action_ptr& a, bool skip);

  static inline const char* name = "sluice.projection";
};

/// The pointers of `cfg` are owned by the runtime and outlive the actor.
caf::behavior projection_actor(caf::stateful_actor<projection_state>* self, views::view_shard* shard,
                               const projection_config& cfg);

} // namespace sluice::actors

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(sluice::actors::handover_ptr)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(sluice::actors::checkpoints_ref)
