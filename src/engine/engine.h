// The engine as the front end sees it: submit commands, read views, read
// the log, ask readiness and metrics. Free of CAF: actors/ implements it.
#pragma once

#include "base/duration_histogram.h"
#include "domain/aggregate.h"
#include "domain/command.h"
#include "domain/model.h"
#include "engine/errc.h"
#include "engine/process_stats.h"
#include "engine/view_feed.h"
#include "log/event_log.h" // log::durability, log::options
#include "log/store.h"

#include <chrono>
#include <cstdint>
#include <expected>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace sluice::engine {

struct options {
  /// The aggregate types and views to serve (required); must outlive the engine.
  const domain::model* model = nullptr;
  std::filesystem::path data_dir = "./data";
  log::durability durability = log::durability::fsync;
  uint32_t threads = 0;            ///< actor scheduler threads; 0: one per core
  uint32_t shards = 2;             ///< shards per view
  size_t max_in_flight = 1u << 20; ///< commands accepted but not yet answered; beyond: overloaded
  uint64_t segment_bytes = 64ull << 20;
  /// SPEC §14: the NATS servers of the cluster's JetStream; empty: the
  /// local log in <data>/log. With them, the events live in the stream and
  /// <data>/cluster-log is the node's mirror of it.
  std::vector<std::string> cluster_servers;
  std::string node; ///< this node's name (required with cluster_servers)
  /// How long the start waits for the NATS servers before it goes on
  /// without them (`/readyz` 503) and keeps trying in the background.
  std::chrono::milliseconds cluster_connect_timeout{3000};
  uint32_t partitions = 0; ///< 0: the cluster's, or 64 for a new stream
  /// See log::options: a failed fdatasync (the server exits there).
  std::function<void(const log::error&)> on_sync_failure = {};
  /// See log::options: failures injected by tests.
  std::function<int(log::syscall_site)> log_inject = {};
  /// Passivation (SPEC §9): an aggregate without a command for this long
  /// leaves memory (0: never for idleness) …
  std::chrono::milliseconds passivate_after{60'000};
  /// … and so do the least recently used beyond this many live actors.
  size_t max_live_aggregates = 1'000'000;
  std::chrono::milliseconds passivation_tick{1000}; ///< how often both are enforced
  /// A snapshot every this many events of an aggregate (0: only at
  /// passivation); snapshots off altogether without `snapshots`.
  uint64_t snapshot_every = 200;
  bool snapshots = true;
  /// View shards and the history index write a checkpoint every this many
  /// events (0: only at a graceful stop); none at all without `checkpoints`.
  uint64_t checkpoint_every = 1'000'000;
  /// ... and after at least this many events per key they hold: writing a
  /// checkpoint costs in proportion to its keys, so this bounds the share of
  /// the work spent on them, and keeps the tail replayed after a crash in
  /// proportion to the checkpoint loaded with it.
  uint64_t checkpoint_per_key = 4;
  bool checkpoints = true;
  /// Retention (SPEC §9): closed segments beyond the newest adding up to
  /// at least `retain_bytes`, or closed longer than `retain_age` ago, are
  /// deleted (0: no such limit; both 0: the whole log is kept).
  uint64_t retain_bytes = 0;
  std::chrono::seconds retain_age{0};
  std::chrono::milliseconds maintenance_tick{1000}; ///< how often checkpoints and retention are looked at
  /// Drills (SPEC §10): the projector of each view named fails on every
  /// event whose key starts with the prefix.
  std::vector<std::pair<std::string, std::string>> drill_fail_views;
  /// Keys an earlier run parked stay parked at start, untried.
  bool keep_parked = false;
  /// Drill: view builds read 16 events at a time and pause 20 ms after
  /// each, so that a test or an operator can act in the middle of one.
  bool drill_slow_build = false;
  /// Drill (SPEC §13): the process of each name waits this long before each step.
  std::vector<std::pair<std::string, std::chrono::milliseconds>> drill_delay_processes;
};

enum class command_status {
  done,            ///< `outcome` says accepted, duplicate, conflict or rejected
  overloaded,      ///< too many commands in flight; retry later (503)
  not_ready,       ///< recovery is still running (503)
  failed,          ///< the event log failed; nothing was persisted (500)
  log_unavailable, ///< the event log cannot append now (a full disk); nothing was persisted (503)
};

/// The answer to one command.
struct command_result {
  command_status status = command_status::done;
  domain::outcome outcome;
  uint64_t position = 0; ///< accepted: position of the command's last event
  std::string message;   ///< for overloaded, not_ready, failed
};

/// Called exactly once; must not block. On the caller's thread, before
/// submit() returns, when the command is refused at once (not_ready,
/// failed, log_unavailable, overloaded); on an engine thread otherwise.
using command_callback = std::move_only_function<void(command_result)>;

enum class read_status {
  found,
  not_found,
  timeout,
  building, ///< the version builds and the read asked for no position (503 view_building)
};

/// Which view a read, listing or subscription is of: its name and a
/// version, or 0 for the one serving (SPEC §10).
struct view_ref {
  std::string_view name;
  uint32_t version = 0;

  view_ref(std::string_view n, uint32_t v = 0) : name(n), version(v) {}
  view_ref(const char* n) : name(n) {}
  view_ref(const std::string& n) : name(n) {}
};

/// A read of one view key.
struct view_read {
  read_status status = read_status::not_found;
  uint64_t position = 0;                    ///< the view's applied position (for the key's shard) at the read
  uint64_t changed_at = 0;                  ///< position of the last event that changed the key
  std::shared_ptr<const std::string> value; ///< JSON; null for a key whose first event is parked
  uint64_t parked = 0;                      ///< events of the key in the view's error log
};

struct view_item {
  std::string key;
  uint64_t changed_at = 0;
  std::shared_ptr<const std::string> value;
};

/// A page of a view's keys in byte order.
struct view_page {
  uint64_t position = 0; ///< every shard of the view has applied at least this
  std::vector<view_item> items;
  bool more = false;     ///< keys remain after the last item
  bool building = false; ///< the version still builds: nothing listed (503 view_building)
};

/// One defined version of a view, for the admin API (SPEC §10).
struct view_status {
  std::string_view view;
  uint32_t version = 0;
  std::string_view state; ///< "serving", "building" or "retired"
  uint64_t position = 0;  ///< applied by every shard
  uint64_t lag = 0;       ///< events of the log not yet applied
  uint64_t parked = 0;    ///< events in the error log
  struct build_progress {
    uint64_t position = 0, target = 0;
    double events_per_second = 0;
  };
  std::optional<build_progress> build; ///< while this version builds or rebuilds
};

enum class rebuild_status { started, unknown_view, running };

/// One parked key of a view's error log (SPEC §10).
struct view_error {
  std::string key;
  uint64_t position = 0; ///< of its first parked event
  std::string event_type, error;
  int64_t first_failed_us = 0; ///< µs since the epoch
  uint64_t attempts = 0, parked = 0;
};

struct view_errors_page {
  std::vector<view_error> items; ///< by key
  bool more = false;
};

/// Where a view version is: not defined (or retired), building, or serving.
enum class view_state { unknown, building, serving };

struct metrics {
  uint64_t commands_ok = 0, commands_rejected = 0, commands_conflict = 0, commands_invalid = 0, commands_duplicate = 0,
           commands_overloaded = 0;
  duration_histogram::counts command_duration; ///< engine receipt → answer
  uint64_t events_appended = 0, log_syncs = 0, log_position = 0;
  duration_histogram::counts log_sync_duration;
  uint64_t aggregates_live = 0, in_flight = 0, command_bus_depth = 0;
  uint64_t aggregates_known = 0, activations = 0, passivations = 0;
  uint64_t memory_trims = 0; ///< free memory handed back to the kernel after passivations
  uint64_t snapshots_written = 0, snapshots_rejected = 0;
  uint64_t checkpoints_written = 0, checkpoints_rejected = 0, log_first_position = 1;
  uint64_t retention_deleted_bytes = 0;
  uint64_t recovery_from = 0, recovery_events = 0; ///< where start-up's replay began, and how many it replayed
  std::vector<std::pair<std::string_view, uint64_t>> view_positions; ///< applied by every shard
  /// Per view: lag and parked events of its serving version, rebuilds done.
  struct view_metrics {
    std::string_view view;
    uint64_t lag = 0, parked = 0, rebuilds = 0;
    std::vector<std::pair<uint32_t, uint64_t>> builds; ///< version → position of a build running
  };
  std::vector<view_metrics> views;
  std::vector<process_stats> processes;
  /// In a cluster (SPEC §14); log_sync_duration is then the publish's.
  struct cluster_metrics {
    uint64_t partitions_owned = 0, lease_changes = 0, fenced = 0, foreign_events = 0;
  };
  std::optional<cluster_metrics> cluster;
};

/// A cluster node's view of its cluster (SPEC §14, GET /v1/admin/cluster),
/// from the stream as the node has read it.
struct cluster_status {
  std::string node, role;
  uint32_t partition_count = 0;
  uint64_t first_position = 0, last_position = 0; ///< of the stream (the mirror's)
  int replicas = 0;                               ///< the stream's; 0 when JetStream did not answer
  std::string stream_leader;                      ///< the server leading the stream; empty in an election
  struct node_entry {
    std::string node, role;
    uint32_t partitions = 0;
    uint64_t last_seen_ms = 0; ///< since the stream stored its last message
  };
  std::vector<node_entry> nodes;
  struct partition_entry {
    uint32_t partition = 0;
    std::string owner;         ///< empty: none
    uint64_t lease_age_ms = 0; ///< since the stream stored the owner's claim or records that gave it the partition
  };
  std::vector<partition_entry> partitions;
};

/// Thread-safe: every method may be called from any thread at once.
class engine {
 public:
  virtual ~engine() = default;

  /// The domain this engine serves.
  virtual const domain::model& model() const = 0;

  /// Queues `cmd` for its aggregate. `done` runs once with the outcome (see
  /// command_callback for which thread); an accepted command is answered
  /// only after its events are durable.
  virtual void submit(domain::command cmd, command_callback done) = 0;

  /// Reads `key` of `view`; with `min_position`, waits up to `timeout` for
  /// the key's shard to apply it (status timeout if it does not).
  /// False if the view does not exist (then `done` is not called).
  /// False, too, if the version is not defined or retired; a version that
  /// builds answers `building` unless `min_position` asks to wait.
  virtual bool read_view(view_ref view, std::string_view key, uint64_t min_position, std::chrono::milliseconds timeout,
                         std::move_only_function<void(view_read)> done) = 0;

  /// Up to `limit` keys of `view` after `after`. False if the view does not exist.
  virtual bool list_view(view_ref view, std::string_view after, size_t limit,
                         std::move_only_function<void(view_page)> done) = 0;

  /// Subscribes to `key` of `view`, or to every key with "*". The feed
  /// delivers `subscribed`, the snapshot, then every change (conflated per
  /// key while unread); `wake` runs when it has items after being drained.
  /// Null if the view does not exist. Close the feed to unsubscribe.
  virtual std::shared_ptr<view_feed> subscribe_view(view_ref view, std::string_view key,
                                                    std::function<void()> wake) = 0;

  /// Calls `wake` after every group commit made durable, until removed.
  /// `wake` runs on the log's thread: it must be quick, must not block and
  /// must not add or remove listeners. Returns an id for
  /// remove_durable_listener().
  virtual uint64_t add_durable_listener(std::function<void()> wake) = 0;
  virtual void remove_durable_listener(uint64_t id) = 0;

  /// The durable log (reads are thread-safe).
  virtual const log::store& log() const = 0;

  /// Where the events of aggregate `id` are, per aggregate type that has
  /// one with this id (ids are per type): for each, how many events in all
  /// and the positions of up to `limit` of them from version `skip` + 1 on,
  /// ascending. Empty if no aggregate has this id.
  struct history_part {
    const domain::aggregate_type* type = nullptr;
    size_t total = 0;   ///< events in all, the dropped ones included
    size_t dropped = 0; ///< the first events, deleted by retention
    std::vector<uint64_t> positions;
  };
  virtual std::vector<history_part> aggregate_history(std::string_view id, size_t skip, size_t limit) const = 0;

  /// True once recovery has rebuilt every aggregate and view, until stop().
  virtual bool ready() const = 0;

  /// True once stop() has begun: commands are refused, in-flight ones finish.
  virtual bool stopping() const = 0;

  /// True while the log cannot append (a full disk): commands are answered
  /// log_unavailable until the engine finds that appending works again.
  virtual bool log_unavailable() const = 0;

  /// Blocks until recovery has ended or the timeout. True if it succeeded
  /// (ready() until stop()); false on a timeout or a failed recovery.
  virtual bool wait_ready(std::chrono::milliseconds timeout) = 0;

  /// Counts `n` commands that were refused before reaching the engine
  /// (they failed decoding): sluice_commands_total{result="invalid"}.
  virtual void count_invalid(uint64_t n) = 0;

  virtual metrics snapshot() const = 0;
  /// Nothing when the node runs alone on its local log. Asks the JetStream
  /// servers: not for hot paths.
  virtual std::optional<cluster_status> cluster() const = 0;
  virtual view_state state_of(view_ref view) const = 0;
  /// Every defined version of every view, in definition order (SPEC §10).
  virtual std::vector<view_status> view_statuses() const = 0;
  /// Rebuilds the serving version of `view` from the log's start in the
  /// background, then swaps it in; `version` gets the version rebuilt.
  virtual rebuild_status rebuild_view(std::string_view view, uint32_t& version) = 0;
  /// The serving version's error log: up to `limit` parked keys after
  /// `after`. False if the view does not exist.
  virtual bool view_errors(std::string_view view, std::string_view after, size_t limit,
                           std::move_only_function<void(view_errors_page)> done) = 0;
  /// Retries the parked sequences of `key` (every key if empty); `done`
  /// gets the keys replayed whole and the keys still parked.
  virtual bool replay_view_errors(std::string_view view, std::string_view key,
                                  std::move_only_function<void(size_t, size_t)> done) = 0;
  /// Drops the parked events of `key`; `done` gets how many (0: none).
  virtual bool skip_view_errors(std::string_view view, std::string_view key,
                                std::move_only_function<void(uint64_t)> done) = 0;

  /// Stops taking commands, answers those in flight, syncs the log, stops
  /// the actors. Idempotent; the destructor calls it.
  virtual void stop() = 0;
};

/// Starts an engine on `opts.data_dir` (implemented by actors/). Recovery
/// runs in the background (wait_ready() tells how it ended); the error is
/// errc::log_open for a log that cannot be opened.
std::expected<std::unique_ptr<engine>, error> start(const options& opts);

} // namespace sluice::engine
