// The runtime's maintenance: checkpoints of the history index (taken and
// loaded), retention (SPEC §9), and handing freed memory back.
//
// Owns its state, its lock and one thread, woken by its tick, a closed
// segment and stop(). The views it needs (whether they hold a position, a
// build running, a checkpoint of every shard) it asks through view_hooks,
// which the runtime answers from its view registry; the rest are the
// runtime's parts, which outlive it.
#pragma once

#include "actors/counters.h"
#include "actors/journal.h"
#include "engine/engine.h"
#include "engine/aggregate_index.h"
#include "engine/process_runner.h"
#include "log/checkpoint_file.h"
#include "log/snapshot_store.h"
#include "log/store.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <vector>

namespace sluice::actors {

/// What maintenance asks of the views; each may be called on its thread.
struct view_hooks {
  /// Whether every view's serving version has applied `position`.
  std::function<bool(uint64_t position)> hold;
  /// A build in progress ("view V version N builds from the log"); empty: none.
  std::function<std::string()> building;
  /// Checkpoints every serving shard now and waits: the least position
  /// they are at (UINT64_MAX: no shard).
  std::function<uint64_t()> checkpoint_shards;
};

class maintenance {
 public:
  struct parts {
    const sluice::engine::options& opts;
    log::store& log;
    sluice::engine::history_index& index;
    journal& events;
    log::snapshot_store* snapshots;      ///< null: snapshots are off
    log::checkpoint_writer* checkpoints; ///< null: checkpoints are off
    const counters& stats;
    const std::vector<std::unique_ptr<sluice::engine::process_runner>>& processes;
    const std::atomic<bool>& stopping;
    std::atomic<uint64_t>& checkpoints_rejected; ///< shared with the view shards
    view_hooks views;
  };

  explicit maintenance(parts p);
  ~maintenance();
  maintenance(const maintenance&) = delete;
  maintenance& operator=(const maintenance&) = delete;

  /// Starts the thread; it works only once `ready()` is true.
  void start(std::function<bool()> ready);
  /// A log segment was closed: retention may have work. Any thread.
  void segment_closed();
  /// Ends the thread (the pass in progress finishes first). Idempotent.
  void stop();

  /// Loads the history index's checkpoint; returns its position (0: none).
  /// The recovery thread, before the maintenance thread works.
  uint64_t restore_index();
  /// Recovery ended with the log at `last_position` and the index's
  /// checkpoint at `indexed`. The recovery thread.
  void recovered(uint64_t last_position, uint64_t indexed);
  /// Checkpoints the history index at what the journal has indexed, if
  /// that is past the last one; returns the checkpoint's position. The
  /// maintenance thread, or any one after stop().
  uint64_t checkpoint_index();

  /// One retention run: the segments the limits let go, made safe to lose
  /// (snapshots, checkpoints at or past the cut), then deleted. True if it
  /// should be tried again (something it needs is not there yet). The
  /// maintenance thread, or a test's while none runs.
  bool retain();
  /// How many of `segments`, from the oldest, lie beyond the limits (the
  /// last, being written, never does). Pure.
  static size_t beyond_limits(std::span<const log::segment_info> segments, uint64_t retain_bytes,
                              std::chrono::seconds retain_age, std::chrono::system_clock::time_point now);

  uint64_t retention_deleted() const { return retention_deleted_.load(std::memory_order_relaxed); }
  uint64_t memory_trims() const { return memory_trims_.load(std::memory_order_relaxed); }

 private:
  void loop(const std::function<bool()>& ready);
  void trim_memory();
  bool retention_on() const { return p_.opts.retain_bytes > 0 || p_.opts.retain_age.count() > 0; }
  /// Logs why the log before `cut` is kept (once until a deletion); false.
  bool held_back(uint64_t cut, const std::string& why);
  /// Snapshots every aggregate with events before `cut` and none recent
  /// enough; nullopt when done, else retain()'s answer.
  std::optional<bool> snapshot_before(uint64_t cut);
  bool snapshots_cover(uint64_t cut) const;

  parts p_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false, segment_closed_ = true; ///< under mu_; retention also runs at start
  std::thread thread_;

  // The maintenance thread's (and the recovery thread's before it starts working).
  uint64_t index_checkpointed_ = 0;
  bool retention_blocked_told_ = false;
  // A process behind the cut catches up by itself: retention tries again then.
  std::optional<std::chrono::steady_clock::time_point> retention_retry_at_;
  uint64_t trimmed_at_passivations_ = 0;
  bool trimmed_after_recovery_ = false;
  std::chrono::steady_clock::time_point trimmed_at_;
  std::atomic<uint64_t> recovered_to_{0}; ///< the log's last position when recovery ended

  std::atomic<uint64_t> retention_deleted_{0}, memory_trims_{0};
};

} // namespace sluice::actors
