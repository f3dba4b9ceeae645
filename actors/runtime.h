// The engine implemented with CAF actors: the wiring of command bus,
// router, aggregates, journal and projections, recovery, and the return
// from a full disk.
//
// Threads: the CAF scheduler runs the actors; the log has its own; a
// recovery thread loads checkpoints and replays the log after them at start
// (engine/replay.h); a watch thread wakes only while the log cannot append,
// to bring it back; a maintenance thread checkpoints the history index and
// runs retention (actors/maintenance.cpp).
#pragma once

#include "actors/command_bus.h"
#include "actors/counters.h"
#include "actors/journal.h"
#include "actors/messages.h"
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
  bool ready() const override { return ready_.load() && !stopping_.load(); }
  bool stopping() const override { return stopping_.load(); }
  bool log_unavailable() const override { return unavailable_.load() || log_->unavailable(); }
  bool wait_ready(std::chrono::milliseconds timeout) override;
  void count_invalid(uint64_t n) override { stats_.invalid.fetch_add(n, std::memory_order_relaxed); }
  sluice::engine::metrics snapshot() const override;
  void stop() override;

 private:
  // actors/views.cpp: view versions, builds and swaps (SPEC §10).

  /// The shards of one version of a view, or of one rebuild of it.
  struct view_instance {
    const domain::view_definition* def = nullptr;
    std::vector<caf::actor> shards;
    std::vector<std::unique_ptr<std::atomic<uint64_t>>> applied; ///< per shard, for metrics
    std::vector<std::unique_ptr<std::atomic<uint64_t>>> parked;  ///< per shard, for metrics
    std::unique_ptr<views::error_log> errors;                    ///< shared by the shards
    uint64_t parked_events() const;
    std::atomic<size_t> live{0};             ///< shards caught up with the journal (a build ends at all)
    std::atomic<int64_t> build_in_flight{0}; ///< builder batches not yet applied
    std::atomic<uint64_t> floor{0};          ///< what the version it replaced had applied
    std::atomic<uint64_t> build_position{0}, build_target{0};
    std::chrono::steady_clock::time_point build_started;
    uint64_t least_applied() const;
  };
  using instance_ptr = std::shared_ptr<view_instance>;

  /// Every version of one view name; under views_mu_.
  struct view_group {
    std::string_view name;
    std::vector<const domain::view_definition*> defs; ///< by version, ascending
    instance_ptr serving;                             ///< null until a version has caught up
    instance_ptr building;                            ///< a newer version, or a rebuild, building
    uint64_t rebuilds = 0;                            ///< builds swapped in
  };

  /// Spawns the shards of `def`: live (recovery fills them) or building.
  instance_ptr spawn_view(const domain::view_definition* def, bool building);
  void spawn_shards(view_instance& inst, bool building);
  /// Decides, per view, the version recovery fills and the one to build.
  void plan_views();
  /// Starts the builds plan_views() or a rebuild asked for.
  void start_build(view_group& g, instance_ptr inst);
  /// The builder's thread: the log from its start into `inst`, then the swap.
  void build(size_t group, const instance_ptr& inst);
  void swap(size_t group, const instance_ptr& inst);
  /// Writes which version of each view serves to <data>/views/serving.
  void save_serving() const;
  /// The instance `ref` names (null: none). Takes views_mu_.
  instance_ptr find_instance(sluice::engine::view_ref ref, bool* building) const;
  std::vector<caf::actor> serving_shards() const;
  std::filesystem::path errors_path(const domain::view_definition& def, bool building) const;
  void recover();
  void watch_log();

  // actors/maintenance.cpp
  /// Asks every view shard to load its checkpoint (`restore`) or to take
  /// one now, and waits for their answers.
  shard_round_ptr ask_shards(bool restore);
  /// Loads the history index's checkpoint; returns its position (0: none).
  uint64_t restore_index();
  /// Checkpoints the history index at what the journal has indexed, if
  /// that is past the last one; returns the checkpoint's position.
  uint64_t checkpoint_index();
  void maintain();
  /// One retention run: what the limits let go, and what recovery would
  /// need without it, then the deletion.
  /// True if it should be tried again (something it needs is not there yet).
  bool retain();
  bool retention_on() const { return opts_.retain_bytes > 0 || opts_.retain_age.count() > 0; }

  sluice::engine::options opts_;
  std::unique_ptr<log::store> log_;
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
  std::vector<view_group> views_; ///< fixed once started; what each holds under views_mu_
  std::vector<instance_ptr>
      instances_; ///< every one spawned (under views_mu_ once started): their counters outlive the actors
  std::vector<std::pair<size_t, instance_ptr>> planned_builds_; ///< started once recovery is done
  std::mutex builders_mu_;
  std::vector<std::thread> builders_;

  enum class recovery_state { running, done, failed };
  std::atomic<bool> ready_{false}, stopping_{false};
  recovery_state recovery_state_ = recovery_state::running; ///< under ready_mu_
  std::mutex ready_mu_;
  std::condition_variable ready_cv_;
  std::thread recovery_;

  // A full disk: commands are refused from the first failed append until
  // the watch thread has seen every command in flight answered, the disk
  // with room, and the aggregates that ran ahead of the log rebuilt.
  std::atomic<bool> unavailable_{false};
  std::mutex watch_mu_;
  std::condition_variable watch_cv_;
  bool watch_stop_ = false;
  std::thread watch_;

  // Maintenance: index checkpoints and retention, woken by its tick, a
  // closed segment, and stop().
  std::mutex maint_mu_;
  std::condition_variable maint_cv_;
  bool maint_stop_ = false, segment_closed_ = true; // retention also runs at start
  std::thread maint_;
  uint64_t index_checkpointed_ = 0; ///< maintenance thread (and stop() after it)
  std::atomic<uint64_t> checkpoints_rejected_{0}, retention_deleted_{0};
  std::atomic<uint64_t> recovery_from_{0}, recovery_events_{0};
  bool retention_blocked_told_ = false;
  // Memory handed back after passivations and after recovery (maintenance thread).
  uint64_t trimmed_at_passivations_ = 0;
  std::atomic<uint64_t> recovered_to_{0}; ///< the log's last position when recovery ended
  bool trimmed_after_recovery_ = false;
  std::atomic<uint64_t> memory_trims_{0};
  std::chrono::steady_clock::time_point trimmed_at_{};
  void trim_memory();
  /// Whether every view's serving version has applied `position`.
  bool views_hold(uint64_t position) const;
  // A process behind the cut catches up by itself: retention tries again then.
  std::optional<std::chrono::steady_clock::time_point> retention_retry_at_;

  /// The model's process managers, started once recovery is done.
  std::vector<std::unique_ptr<sluice::engine::process_runner>> processes_;

  std::mutex stop_mu_;
  mutable std::mutex views_mu_; ///< snapshot() against stop() clearing views_
  bool stopped_ = false;
};

} // namespace sluice::actors
