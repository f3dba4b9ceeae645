// The engine implemented with CAF actors: the wiring of command bus,
// router, aggregates, journal and projections, recovery, and the return
// from a full disk.
//
// Threads: the CAF scheduler runs the actors; the log has its own; a
// recovery thread loads checkpoints and replays the log after them at start
// (engine/replay.h, actors/recovery_gate.h); a watch thread wakes only while
// the log cannot append, to bring it back (actors/disk_watch.h); a
// maintenance thread checkpoints the history index and runs retention
// (actors/maintenance.h).
#pragma once

#include "actors/command_bus.h"
#include "actors/counters.h"
#include "actors/disk_watch.h"
#include "actors/foreign_events.h"
#include "actors/journal.h"
#include "actors/maintenance.h"
#include "actors/messages.h"
#include "actors/recovery_gate.h"
#include "actors/view_registry.h"
#include "engine/engine.h"
#include "engine/process_runner.h"
#include "log/checkpoint_file.h"
#include "views/error_log.h"

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

namespace sluice::cluster {
class jetstream_store;
}
namespace sluice::log {
class deferred_store;
}

namespace sluice::actors {

/// Thread-safe as engine::engine says; start() and the destructor from one
/// controlling thread.
class runtime final : public sluice::engine::engine {
 public:
  explicit runtime(const sluice::engine::options& opts);
  ~runtime() override;

  /// Opens the log, spawns the actors and starts recovery in the
  /// background. The error is for a log that cannot be opened.
  std::expected<void, sluice::engine::error> start();

  const domain::model& model() const override { return *opts_.model; }
  void submit(domain::command cmd, sluice::engine::command_callback done) override;
  bool read_view(sluice::engine::view_ref view, std::string_view key, uint64_t min_position,
                 std::chrono::milliseconds timeout,
                 std::move_only_function<void(sluice::engine::view_read)> done) override;
  bool list_view(sluice::engine::view_ref view, std::string_view after, size_t limit,
                 std::move_only_function<void(sluice::engine::view_page)> done) override;
  std::shared_ptr<sluice::engine::view_feed> subscribe_view(sluice::engine::view_ref view, std::string_view key,
                                                            std::function<void()> wake) override;
  sluice::engine::view_state state_of(sluice::engine::view_ref view) const override;
  std::vector<sluice::engine::view_status> view_statuses() const override;
  sluice::engine::rebuild_status rebuild_view(std::string_view view, uint32_t& version) override;
  bool view_errors(std::string_view view, std::string_view after, size_t limit,
                   std::move_only_function<void(sluice::engine::view_errors_page)> done) override;
  bool replay_view_errors(std::string_view view, std::string_view key,
                          std::move_only_function<void(size_t, size_t)> done) override;
  bool skip_view_errors(std::string_view view, std::string_view key,
                        std::move_only_function<void(uint64_t)> done) override;
  uint64_t add_durable_listener(std::function<void()> wake) override;
  void remove_durable_listener(uint64_t id) override;
  const log::store& log() const override { return *log_; }
  std::vector<history_part> aggregate_history(std::string_view id, size_t skip, size_t limit) const override;
  bool ready() const override { return recovery_.ready() && !stopping_.load(); }
  bool stopping() const override { return stopping_.load(); }
  bool log_unavailable() const override { return watch_.unavailable() || log_->unavailable(); }
  bool wait_ready(std::chrono::milliseconds timeout) override;
  void count_invalid(uint64_t n) override { stats_.invalid.fetch_add(n, std::memory_order_relaxed); }
  sluice::engine::metrics snapshot() const override;
  std::optional<sluice::engine::cluster_status> cluster() const override;
  void stop() override;

 private:
  /// The store, the snapshot store and the checkpoint writer.
  std::expected<void, sluice::engine::error> open_stores();
  std::expected<void, sluice::engine::error> open_cluster_log();
  std::expected<std::unique_ptr<cluster::jetstream_store>, log::error> open_cluster(
      std::chrono::milliseconds timeout, std::function<void()> on_segment_closed);
  bool open_deferred_cluster();
  std::expected<void, sluice::engine::error> open_snapshots();
  /// The actor system, the journal, maintenance, the views, the router.
  void start_parts();
  /// The recovery thread: checkpoints, then the log after them; false if it failed.
  bool recover();
  /// Once recovered: what needs a ready engine (builds, process managers).
  void after_recovery();
  /// The watch thread, after a full disk: true when commands can be taken again.
  bool resume_log();

  /// Asks every serving view shard to load its checkpoint (`restore`) or
  /// to take one now, and waits for their answers.
  shard_round_ptr ask_shards(bool restore);
  /// What maintenance asks of the views.
  view_hooks maintenance_hooks();

  sluice::engine::options opts_;
  std::unique_ptr<log::store> log_;
  std::atomic<cluster::jetstream_store*> cluster_{nullptr}; ///< log_ (or in deferred_), in a cluster
  log::deferred_store* deferred_ = nullptr;                 ///< log_, while the cluster is not reached yet
  std::unique_ptr<log::snapshot_store> snapshots_;
  std::unique_ptr<log::checkpoint_writer> checkpoints_;
  counters stats_;
  sluice::engine::history_index index_;
  caf::actor_system_config cfg_;
  std::unique_ptr<caf::actor_system> system_;
  std::unique_ptr<journal> journal_;
  caf::actor journal_actor_;
  command_bus bus_;
  caf::actor router_;
  std::unique_ptr<view_registry> views_; ///< view versions, builds and swaps

  std::atomic<bool> stopping_{false};
  recovery_gate recovery_;
  disk_watch watch_;

  std::unique_ptr<foreign_events> foreign_; ///< other nodes' events (SPEC §14)
  std::unique_ptr<maintenance> maint_;      ///< index checkpoints, retention, memory trims
  std::atomic<uint64_t> checkpoints_rejected_{0};
  std::atomic<uint64_t> recovery_from_{0}, recovery_events_{0};

  /// The model's process managers, started once recovery is done.
  std::vector<std::unique_ptr<sluice::engine::process_runner>> processes_;

  std::mutex stop_mu_;
  bool stopped_ = false;
};

} // namespace sluice::actors
