// Atoms and message payloads of the actor runtime. Payloads travel between
// actors of one process only, by shared pointer, so they are declared as
// unsafe (never serialized) message types.
#pragma once

#include "actors/counters.h"
#include "engine/engine.h"
#include "views/event_batch.h"

#include <caf/all.hpp>

#include <atomic>
#include <chrono>
#include <future>
#include <memory>
#include <string>

namespace sluice::actors {

using drain_atom = caf::atom_constant<caf::atom("drain")>;
using recheck_atom = caf::atom_constant<caf::atom("recheck")>;
using apply_atom = caf::atom_constant<caf::atom("apply")>;
using read_atom = caf::atom_constant<caf::atom("read")>;
using list_atom = caf::atom_constant<caf::atom("list")>;
using timeout_atom = caf::atom_constant<caf::atom("timeout")>;
using subscribe_atom = caf::atom_constant<caf::atom("subscribe")>;
using reload_atom = caf::atom_constant<caf::atom("reload")>;
using passivate_atom = caf::atom_constant<caf::atom("passivate")>;
using stop_atom = caf::atom_constant<caf::atom("stop")>;
using tick_atom = caf::atom_constant<caf::atom("tick")>;
using restore_atom = caf::atom_constant<caf::atom("restore")>;
using checkpoint_atom = caf::atom_constant<caf::atom("checkpoint")>;
using build_atom = caf::atom_constant<caf::atom("build")>;
using livefrom_atom = caf::atom_constant<caf::atom("livefrom")>;
using serve_atom = caf::atom_constant<caf::atom("serve")>;
using retire_atom = caf::atom_constant<caf::atom("retire")>;
using adopt_atom = caf::atom_constant<caf::atom("adopt")>;
using errors_atom = caf::atom_constant<caf::atom("errors")>;
using replay_atom = caf::atom_constant<caf::atom("replay")>;
using skip_atom = caf::atom_constant<caf::atom("skip")>;

/// One command on its way from submit() to its answer.
struct ticket {
  domain::command cmd;
  engine::command_callback done;
  std::chrono::steady_clock::time_point received = std::chrono::steady_clock::now();
  /// The next command for the same aggregate in one router drain: the router
  /// sends an aggregate one message per drain, not one per command.
  std::shared_ptr<ticket> next;

  /// Answers the command, records how long it took (until `now`: the
  /// journal reads the clock once per group commit), and lets go of the
  /// callback (and whatever it holds) at once.
  void answer(engine::command_result res, counters& stats,
              std::chrono::steady_clock::time_point now = std::chrono::steady_clock::now()) {
    stats.command_duration.observe(static_cast<uint64_t>(std::chrono::nanoseconds(now - received).count()));
    auto callback = std::move(done);
    done = nullptr;
    callback(std::move(res));
  }
};
using ticket_ptr = std::shared_ptr<ticket>;

using batch_ptr = std::shared_ptr<const views::event_batch>;

/// A read of one key, possibly waiting for a position.
struct read_request {
  std::string key;
  uint64_t min_position = 0;
  uint64_t floor = 0; ///< after a swap: what the replaced version had applied (SPEC §10, positions never go back)
  std::chrono::milliseconds timeout{0};
  std::move_only_function<void(engine::view_read)> done;
};
using read_ptr = std::shared_ptr<read_request>;

/// A listing gathered from every shard of a view; the last shard to answer merges.
struct list_request {
  uint64_t floor = 0; ///< as read_request's
  std::string after;
  size_t limit = 0;
  std::move_only_function<void(engine::view_page)> done;
  std::mutex mu;
  size_t pending = 0; ///< shards yet to answer
  uint64_t position = UINT64_MAX;
  std::vector<engine::view_item> items;
};
using list_ptr = std::shared_ptr<list_request>;

/// A listing of a view's error log gathered from every shard; the last
/// shard to answer merges.
struct errors_request {
  std::string after;
  size_t limit = 0;
  std::move_only_function<void(engine::view_errors_page)> done;
  std::mutex mu;
  size_t pending = 0;
  std::vector<engine::view_error> items;
};
using errors_ptr = std::shared_ptr<errors_request>;

/// A replay or a skip of parked sequences, on every shard (replay of all
/// keys) or the key's; the last shard to answer calls `done`.
struct error_action {
  std::string key; ///< empty: every key (replay)
  std::atomic<size_t> pending{0}, replayed{0}, still{0};
  std::atomic<uint64_t> skipped{0};
  std::move_only_function<void(size_t replayed, size_t still, uint64_t skipped)> done;
  void finish_one() {
    if (pending.fetch_sub(1) == 1)
      done(replayed.load(), still.load(), skipped.load());
  }
};
using error_action_ptr = std::shared_ptr<error_action>;

/// Aggregates whose state ran ahead of the log (their appends failed on a
/// full disk): each is rebuilt from the log; the last one done says so.
struct reload_request {
  std::vector<std::pair<const domain::aggregate_type*, std::string>> ids;
  std::atomic<size_t> pending{0};
  std::promise<void> done;

  void finish_one() {
    if (pending.fetch_sub(1) == 1)
      done.set_value();
  }
};
using reload_ptr = std::shared_ptr<reload_request>;

/// One request to every view shard (load its checkpoint at start, or take
/// one now): each reports the position it is at; the last one says done.
struct shard_round {
  std::atomic<size_t> pending{0};
  std::atomic<uint64_t> least{UINT64_MAX}; ///< the lowest position reported
  std::atomic<uint64_t> loaded{0};         ///< restore: checkpoints used
  uint64_t limit = UINT64_MAX;             ///< restore: a checkpoint past here (the log's end) is refused
  std::promise<void> done;

  void finish_one(uint64_t position) {
    uint64_t seen = least.load();
    while (position < seen && !least.compare_exchange_weak(seen, position)) {
    }
    if (pending.fetch_sub(1) == 1)
      done.set_value();
  }
};
using shard_round_ptr = std::shared_ptr<shard_round>;

/// An aggregate actor's answer to the router's `passivate`: whether it can
/// stop (nothing of it in flight, every event durable). `round` is the one
/// the router asked in: a chain sent since then keeps the actor.
struct idle_report {
  const domain::aggregate* aggregate;
  uint32_t round;
  bool quiet;
};

} // namespace sluice::actors

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(sluice::actors::ticket_ptr)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(sluice::actors::batch_ptr)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(sluice::actors::read_ptr)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(sluice::actors::list_ptr)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(sluice::actors::errors_ptr)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(sluice::actors::error_action_ptr)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(sluice::actors::reload_ptr)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(sluice::actors::idle_report)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(sluice::actors::shard_round_ptr)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(std::shared_ptr<sluice::engine::view_feed>)
