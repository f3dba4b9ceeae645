// View versions (SPEC §10): which version of each view serves, background
// builds of a newer one or of a rebuild, and the swap once a build has
// caught up (actors/view_registry.cpp says how a swap keeps positions).
//
// Owns the view groups and every instance spawned, their lock, and one
// builder thread per build. The runtime answers reads with find() and sends
// to the shards itself; the registry never answers a client.
#pragma once

#include "actors/counters.h"
#include "actors/journal.h"
#include "actors/messages.h"
#include "engine/engine.h"
#include "log/checkpoint_file.h"
#include "log/store.h"
#include "views/error_log.h"

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace sluice::actors {

class view_registry {
 public:
  /// The shards of one version of a view, or of one rebuild of it.
  struct instance {
    const domain::view_definition* def = nullptr;
    std::vector<caf::actor> shards;
    std::vector<std::unique_ptr<std::atomic<uint64_t>>> applied; ///< per shard, for metrics
    std::vector<std::unique_ptr<std::atomic<uint64_t>>> parked;  ///< per shard, for metrics
    std::unique_ptr<views::error_log> errors;                    ///< shared by the shards
    std::atomic<size_t> live{0};             ///< shards caught up with the journal (a build ends at all)
    std::atomic<int64_t> build_in_flight{0}; ///< builder batches not yet applied
    std::atomic<uint64_t> floor{0};          ///< what the version it replaced had applied
    std::atomic<uint64_t> build_position{0}, build_target{0};
    std::chrono::steady_clock::time_point build_started;
    uint64_t parked_events() const;
    uint64_t least_applied() const;
  };
  using instance_ptr = std::shared_ptr<instance>;

  /// The runtime's parts a registry uses; they outlive it.
  struct parts {
    const sluice::engine::options& opts;
    caf::actor_system& system;
    const log::store& log;
    journal& events;
    log::checkpoint_writer* checkpoints; ///< null: checkpoints are off
    std::atomic<uint64_t>& checkpoints_rejected;
    const counters& stats;
    const std::atomic<bool>& stopping;
  };

  explicit view_registry(parts p);
  ~view_registry();
  view_registry(const view_registry&) = delete;
  view_registry& operator=(const view_registry&) = delete;

  /// Decides, per view, the version recovery fills and the one to build,
  /// and spawns their shards. Once, before recovery.
  void plan();
  /// After recovery: records what serves and starts the planned builds.
  void recovered();
  /// Rebuilds the serving version of `view` from the log's start; `version`
  /// is set to it. Any thread.
  sluice::engine::rebuild_status rebuild(std::string_view view, uint32_t& version);

  /// The instance `ref` names (null: none); `building` says whether it is
  /// still building. Any thread.
  instance_ptr find(sluice::engine::view_ref ref, bool* building) const;
  std::vector<caf::actor> serving_shards() const;
  std::vector<sluice::engine::view_status> statuses() const;
  /// The views' part of engine::metrics.
  void add_metrics(sluice::engine::metrics& m) const;
  /// Whether every view's serving version has applied `position`.
  bool hold(uint64_t position) const;
  /// A build in progress ("view V version N builds from the log"); empty: none.
  std::string building() const;

  /// Stopping: no build starts after this, and those running have ended.
  void join_builders();
  /// Sends every shard an exit and forgets them (their counters stay until
  /// the registry goes, after the actor system).
  void exit_shards();

 private:
  /// Every version of one view name; what it points to under mu_.
  struct view_group {
    std::string_view name;
    std::vector<const domain::view_definition*> defs; ///< by version, ascending
    instance_ptr serving;                             ///< null until a version has caught up
    instance_ptr building;                            ///< a newer version, or a rebuild, building
    uint64_t rebuilds = 0;                            ///< builds swapped in
  };

  /// Spawns the shards of `def`: live (recovery fills them) or building.
  instance_ptr spawn(const domain::view_definition* def, bool building);
  void spawn_shards(instance& inst, bool building);
  void start_build(view_group& g, instance_ptr inst);
  uint64_t begin_build(const view_group& g, const instance_ptr& inst);
  std::expected<batch_ptr, log::error> read_batch(uint64_t from, size_t size) const;
  /// The builder's thread: the log from its start into `inst`, then the swap.
  void build(size_t group, const instance_ptr& inst);
  void swap(size_t group, const instance_ptr& inst);
  /// Writes which version of each view serves to <data>/views/serving.
  void save_serving() const;
  std::filesystem::path errors_path(const domain::view_definition& def, bool building) const;

  parts p_;
  std::vector<view_group> groups_;      ///< fixed once planned
  std::vector<instance_ptr> instances_; ///< every one spawned: their counters outlive the actors
  std::vector<std::pair<size_t, instance_ptr>> planned_builds_; ///< started once recovery is done
  mutable std::mutex mu_;
  std::mutex builders_mu_;
  std::vector<std::thread> builders_;
};

} // namespace sluice::actors
