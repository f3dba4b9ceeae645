#include "actors/runtime.h"

#include "actors/aggregate_actor.h"
#include "actors/projection_actor.h"
#include "actors/router.h"
#include "actors/scheduler.h"
#include "base/logger.h"
#include "base/thread_name.h"
#include "cluster/jetstream_store.h"
#include "log/deferred_store.h"
#include "engine/replay.h"
#include "views/projector.h"

#include <map>
#include <numeric>

namespace sluice::actors {

namespace {

constexpr logger k_log("engine");
constexpr size_t k_recovery_batch = 4096; // events per batch handed to projections during replay
constexpr auto k_watch_interval = std::chrono::milliseconds(200); // how often a full disk is looked at again
constexpr auto k_stop_wait = std::chrono::seconds(30);            // for commands in flight at stop()

} // namespace

runtime::runtime(const sluice::engine::options& opts)
    : opts_(opts), index_(opts.model->types().types()), watch_([this] { return resume_log(); }, k_watch_interval) {}

runtime::~runtime() { stop(); }

std::expected<void, sluice::engine::error> runtime::start() {
  if (auto r = open_stores(); !r)
    return r;
  start_parts();
  recovery_.start([this] { return recover(); }, [this] { after_recovery(); });
  watch_.start();
  maint_->start([this] { return recovery_.ready(); });
  return {};
}

std::expected<void, sluice::engine::error> runtime::open_stores() {
  if (!opts_.cluster_servers.empty()) {
    if (auto r = open_cluster_log(); !r)
      return r;
  } else {
    log::options lo{opts_.data_dir / "log", opts_.durability, opts_.segment_bytes,
                    opts_.on_sync_failure,  opts_.log_inject, &opts_.model->types()};
    auto log = log::event_log::open(lo);
    if (!log)
      return std::unexpected(sluice::engine::error{sluice::engine::errc::log_open, log.error().message});
    log_ = std::move(*log);
  }
  if (opts_.snapshots)
    if (auto r = open_snapshots(); !r)
      return r;
  if (opts_.checkpoints) {
    auto dir = opts_.data_dir / "checkpoints";
    if (size_t n = log::remove_partial_checkpoints(dir); n > 0)
      k_log.info("removed {} checkpoint files a crash left half written", n);
    checkpoints_ = std::make_unique<log::checkpoint_writer>(dir);
  }
  return {};
}

// SPEC §14: the events in the cluster's JetStream stream, this node's
// mirror of it in <data>/cluster-log. Until leases spread them, the node
// claims every partition at start: one writer at a time, fenced. Servers
// that cannot be reached are waited for in the background (recovery does),
// while the node serves `/readyz` 503; a cluster that refuses this node
// (another partition count, a damaged mirror) stops the start.
std::expected<void, sluice::engine::error> runtime::open_cluster_log() {
  auto store = open_cluster(opts_.cluster_connect_timeout, {});
  if (store) {
    cluster_.store(store->get());
    log_ = std::move(*store);
    return {};
  }
  if (store.error().code != log::errc::io_error)
    return std::unexpected(sluice::engine::error{sluice::engine::errc::log_open, store.error().message});
  k_log.warn("{}; trying again in the background (/readyz answers 503 until then)", store.error().message);
  auto d = std::make_unique<log::deferred_store>();
  deferred_ = d.get();
  log_ = std::move(d);
  return {};
}

std::expected<std::unique_ptr<cluster::jetstream_store>, log::error> runtime::open_cluster(
    std::chrono::milliseconds timeout, std::function<void()> on_segment_closed) {
  cluster::jetstream_options jo;
  jo.servers = opts_.cluster_servers;
  jo.node = opts_.node;
  jo.mirror_dir = opts_.data_dir / "cluster-log";
  jo.mirror_segment_bytes = opts_.segment_bytes;
  jo.upcaster = &opts_.model->types();
  jo.partitions = opts_.partitions;
  jo.new_stream_partitions = 64;
  jo.connect_timeout = timeout;
  jo.on_segment_closed = std::move(on_segment_closed);
  auto store = cluster::jetstream_store::open(jo);
  if (!store)
    return store;
  std::vector<uint32_t> all((*store)->partition_count());
  std::iota(all.begin(), all.end(), 0u);
  if (auto r = (*store)->claim(all); !r)
    return std::unexpected(log::error{r.error().code, "claiming the partitions: " + r.error().message});
  k_log.info("cluster: node {} writes all {} partitions of stream {} (mirror at position {})", opts_.node, all.size(),
             jo.stream, (*store)->last_position());
  return store;
}

// The recovery thread, when the servers could not be reached at start:
// tries until they can, or the node stops.
bool runtime::open_deferred_cluster() {
  auto said = std::chrono::steady_clock::now();
  for (;;) {
    if (stopping_.load())
      return false;
    auto store = open_cluster(std::chrono::milliseconds(2000), deferred_->segment_closed_hook());
    if (store) {
      cluster_.store(store->get());
      deferred_->set(std::move(*store));
      k_log.info("cluster: the NATS servers answered; recovering");
      return true;
    }
    if (store.error().code != log::errc::io_error) {
      k_log.error("cannot join the cluster: {} (/readyz answers 503; fix and restart)", store.error().message);
      return false;
    }
    if (std::chrono::steady_clock::now() - said > std::chrono::seconds(10)) {
      k_log.warn("{}; still trying (/readyz answers 503)", store.error().message);
      said = std::chrono::steady_clock::now();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
}

// Snapshots of a changed state layout are refused here, once, rather than
// at each activation.
std::expected<void, sluice::engine::error> runtime::open_snapshots() {
  auto& types = opts_.model->types();
  uint64_t stale = 0;
  log::snapshot_store::options so;
  so.dir = opts_.data_dir / "snapshots";
  so.on_written = [this, &types](const log::snapshot& s, log::snapshot_ref ref) {
    if (auto* type = types.find_type(s.type))
      index_.of(type).set_snapshot(s.id, {ref, s.version});
  };
  auto store = log::snapshot_store::open(std::move(so), [&](const log::snapshot& s, log::snapshot_ref ref) {
    auto* type = types.find_type(s.type);
    if (!type || s.fingerprint != type->state_fingerprint()) {
      ++stale;
      return;
    }
    index_.of(type).set_snapshot(s.id, {ref, s.version});
  });
  if (!store)
    return std::unexpected(sluice::engine::error{sluice::engine::errc::log_open, store.error().message});
  snapshots_ = std::move(*store);
  stats_.snapshots_rejected.fetch_add(snapshots_->rejected() + stale, std::memory_order_relaxed);
  if (stale > 0)
    k_log.warn("{} snapshots are of an unknown aggregate type or a changed state layout: not used", stale);
  return {};
}

void runtime::start_parts() {
  cfg_.set("scheduler.max-threads", opts_.threads ? opts_.threads : std::max(1u, std::thread::hardware_concurrency()));
  use_scheduler(cfg_);
  system_ = std::make_unique<caf::actor_system>(cfg_);
  journal_ = std::make_unique<journal>(*log_, stats_, index_);
  journal_->attach_snapshots(snapshots_.get(), opts_.snapshot_every);
  journal_->on_unavailable([this] { watch_.trip(); });

  for (auto& def : opts_.model->processes()) {
    auto delay = std::chrono::milliseconds(0);
    for (auto& [name, ms] : opts_.drill_delay_processes)
      if (name == def.name)
        delay = ms;
    processes_.push_back(
        std::make_unique<sluice::engine::process_runner>(*this, def, opts_.data_dir / "processes", delay));
  }

  maint_ = std::make_unique<maintenance>(maintenance::parts{opts_, *log_, index_, *journal_, snapshots_.get(),
                                                            checkpoints_.get(), stats_, processes_, stopping_,
                                                            checkpoints_rejected_, maintenance_hooks()});
  log_->on_segment_closed([this] { maint_->segment_closed(); });
  views_ = std::make_unique<view_registry>(view_registry::parts{opts_, *system_, *log_, *journal_, checkpoints_.get(),
                                                                checkpoints_rejected_, stats_, stopping_});
  views_->plan();
  journal_actor_ = system_->spawn(journal_actor, journal_.get());
  journal_->bind(journal_actor_, views_->serving_shards());
  router_options ro;
  ro.passivate_after = opts_.passivate_after;
  ro.max_live = opts_.max_live_aggregates;
  ro.tick = opts_.passivation_tick;
  router_ = system_->spawn(router_actor, &bus_, journal_.get(), &stats_, ro);
  bus_.bind(router_);
  auto reload = [this](reload_ptr r) { caf::anon_send(router_, reload_atom::value, std::move(r)); };
  journal_->on_refused([reload](auto ids) {
    auto r = std::make_shared<reload_request>();
    r->ids = std::move(ids);
    reload(std::move(r));
  });
  foreign_ = std::make_unique<foreign_events>(*log_, opts_.model->types(), index_, *journal_, reload);
  log_->on_foreign([this](log::append_result at) { foreign_->appended(at); });
}

void runtime::submit(domain::command cmd, sluice::engine::command_callback done) {
  sluice::engine::command_result res;
  if (stopping_.load() || !recovery_.ready()) {
    res.status = sluice::engine::command_status::not_ready;
    res.message = stopping_.load() ? "server is shutting down" : "recovery is still running";
    done(std::move(res));
    return;
  }
  if (log_->failed()) {
    // Fatal by design: whether failed bytes reached the disk is unknowable,
    // so state is rebuilt from what the log holds at the next start.
    res.status = sluice::engine::command_status::failed;
    res.message = "the event log failed; restart the server to recover from the log";
    done(std::move(res));
    return;
  }
  if (watch_.unavailable()) {
    res.status = sluice::engine::command_status::log_unavailable;
    res.message = "the event log cannot append (the disk is full); retry later";
    done(std::move(res));
    return;
  }
  if (stats_.in_flight.fetch_add(1, std::memory_order_relaxed) >= static_cast<int64_t>(opts_.max_in_flight)) {
    stats_.finish();
    stats_.add(stats_.overloaded);
    res.status = sluice::engine::command_status::overloaded;
    res.message = "too many commands in flight";
    done(std::move(res));
    return;
  }
  auto t = std::make_shared<ticket>();
  t->cmd = std::move(cmd);
  t->done = std::move(done);
  bus_.push(std::move(t));
}

uint64_t runtime::add_durable_listener(std::function<void()> wake) { return journal_->add_listener(std::move(wake)); }

void runtime::remove_durable_listener(uint64_t id) { journal_->remove_listener(id); }

std::vector<engine::engine::history_part> runtime::aggregate_history(std::string_view id, size_t skip,
                                                                     size_t limit) const {
  std::vector<history_part> parts;
  for (auto* type : index_.types()) {
    history_part p{type, 0, 0, {}};
    p.positions = index_.of(type).positions(id, skip, limit, p.total, &p.dropped);
    if (p.total > 0)
      parts.push_back(std::move(p));
  }
  return parts;
}

bool runtime::wait_ready(std::chrono::milliseconds timeout) { return recovery_.wait(timeout); }

std::optional<sluice::engine::cluster_status> runtime::cluster() const {
  auto* cl = cluster_.load();
  if (!cl) {
    if (opts_.cluster_servers.empty())
      return std::nullopt;
    sluice::engine::cluster_status waiting; // the servers not reached yet
    waiting.node = opts_.node;
    waiting.role = "writer";
    return waiting;
  }
  sluice::engine::cluster_status out;
  out.node = opts_.node;
  out.role = "writer";
  out.partition_count = cl->partition_count();
  out.first_position = log_->first_position();
  out.last_position = log_->last_position();
  if (auto st = cl->status()) {
    out.replicas = st->replicas;
    out.stream_leader = st->leader;
  }
  auto now = std::chrono::system_clock::now();
  auto age = [&](std::chrono::system_clock::time_point t) -> uint64_t {
    return t >= now ? 0 : static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(now - t).count());
  };
  std::map<std::string, uint32_t, std::less<>> owned;
  auto owners = cl->owners();
  for (uint32_t i = 0; i < owners.size(); ++i) {
    auto& o = owners[i];
    out.partitions.push_back({i, o.node, o.node.empty() ? 0 : age(o.since)});
    if (!o.node.empty())
      ++owned[o.node];
  }
  bool self = false;
  for (auto& [node, last] : cl->writers()) {
    self = self || node == opts_.node;
    out.nodes.push_back({node, "writer", owned[node], node == opts_.node ? 0 : age(last)});
  }
  if (!self)
    out.nodes.push_back({opts_.node, "writer", owned[opts_.node], 0});
  return out;
}

sluice::engine::metrics runtime::snapshot() const {
  sluice::engine::metrics m;
  if (auto* cl = cluster_.load())
    m.cluster = sluice::engine::metrics::cluster_metrics{cl->owned_partitions().size(), cl->owner_changes(),
                                                         cl->fenced(), foreign_->events()};
  m.commands_ok = stats_.ok.load();
  m.commands_rejected = stats_.rejected.load();
  m.commands_conflict = stats_.conflict.load();
  m.commands_duplicate = stats_.duplicate.load();
  m.commands_overloaded = stats_.overloaded.load();
  m.commands_invalid = stats_.invalid.load();
  m.aggregates_live = stats_.aggregates_live.load();
  m.aggregates_known = index_.size();
  m.activations = stats_.activations.load();
  m.passivations = stats_.passivations.load();
  m.memory_trims = maint_ ? maint_->memory_trims() : 0;
  m.snapshots_written = snapshots_ ? snapshots_->written() : 0;
  m.snapshots_rejected = stats_.snapshots_rejected.load();
  m.checkpoints_written = checkpoints_ ? checkpoints_->written() : 0;
  m.checkpoints_rejected = checkpoints_rejected_.load();
  m.log_first_position = log_->first_position();
  m.retention_deleted_bytes = maint_ ? maint_->retention_deleted() : 0;
  m.recovery_from = recovery_from_.load();
  m.recovery_events = recovery_events_.load();
  m.in_flight = static_cast<uint64_t>(std::max<int64_t>(0, stats_.in_flight.load()));
  m.events_appended = log_->appended_records();
  m.log_syncs = log_->syncs();
  m.log_sync_duration = log_->sync_durations().read();
  m.command_duration = stats_.command_duration.read();
  m.command_bus_depth = bus_.depth();
  if (views_)
    views_->add_metrics(m);
  m.log_position = log_->last_position();
  for (auto& p : processes_)
    m.processes.push_back(p->stats());
  return m;
}

void runtime::stop() {
  std::lock_guard once(stop_mu_);
  if (stopped_)
    return;
  stopped_ = true;
  stopping_.store(true);
  recovery_.join();
  for (auto& p : processes_)
    p->stop(); // the steps it had in flight are answered below, and taken again at the next start
  if (views_)
    views_->join_builders();
  if (maint_)
    maint_->stop();
  watch_.stop();
  // Answer what is in flight: accepted commands need their sync.
  if (!stats_.wait_idle(std::chrono::duration_cast<std::chrono::milliseconds>(k_stop_wait)))
    k_log.warn("stopping with {} commands still in flight", stats_.in_flight.load());
  if (log_)
    log_->close();
  // Every durable batch reached the shards' mailboxes before the log
  // closed; a checkpoint asked for now comes after them. Not after a failed
  // recovery: the views are then incomplete.
  if (system_ && checkpoints_ && recovery_.ready()) {
    auto r = ask_shards(false);
    uint64_t indexed = maint_->checkpoint_index();
    checkpoints_->flush();
    k_log.info("checkpoints written at stop: views at position {} or later, history index at {}",
               r->least == UINT64_MAX ? 0 : r->least.load(), indexed);
  }
  if (system_) {
    caf::anon_send_exit(router_, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(journal_actor_, caf::exit_reason::user_shutdown);
    if (views_)
      views_->exit_shards();
    router_ = nullptr;
    journal_actor_ = nullptr;
    system_.reset();      // waits for every actor to finish
    snapshots_.reset();   // writes what the actors queued
    checkpoints_.reset(); // the view registry, with the shards' counters, goes with the runtime
  }
}

// Replays the log into the history index and the projections; aggregates
// are rebuilt by their actors at their first command (from a snapshot and
// the events after it).
bool runtime::recover() {
  if (deferred_ && !open_deferred_cluster())
    return false;
  auto started = std::chrono::steady_clock::now();
  // Checkpoints first: the replay then starts after the oldest of them.
  uint64_t indexed = maint_->restore_index();
  auto shards = ask_shards(true);
  uint64_t views_at = shards->least == UINT64_MAX ? indexed : shards->least.load();
  uint64_t first = log_->first_position();
  if (views_at + 1 < first)
    k_log.error(
        "a view has no checkpoint at position {} or later, and retention deleted the log before it: such views "
        "miss the events before position {} (see docs/operations.md, retention)",
        first - 1, first);
  sluice::engine::replay_sinks sinks{index_, [this](auto b) { journal_->publish(std::move(b)); }, k_recovery_batch,
                                     std::max(std::min(indexed, views_at) + 1, first), indexed};
  auto r = sluice::engine::replay(*log_, opts_.model->types(), sinks, stopping_);
  if (!r) {
    k_log.error("recovery failed: {}", r.error());
    return false;
  }
  if (first > 1)
    index_.settle_dropped();
  recovery_from_.store(sinks.from);
  recovery_events_.store(r->events);
  journal_->set_indexed_to(r->next - 1);
  foreign_->catch_up(r->next); // what other nodes appended meanwhile
  maint_->recovered(log_->last_position(), indexed);
  auto took = std::chrono::steady_clock::now() - started;
  k_log.info(
      "recovered in {} ms: {} events replayed from position {}, {} aggregates known; {} snapshots found, {} "
      "refused; {} checkpoints loaded (history index at {}), {} refused",
      std::chrono::duration_cast<std::chrono::milliseconds>(took).count(), r->events, sinks.from, index_.size(),
      snapshots_ ? snapshots_->found() : 0, stats_.snapshots_rejected.load(),
      shards->loaded.load() + (indexed > 0 ? 1 : 0), indexed, checkpoints_rejected_.load());
  return true;
}

void runtime::after_recovery() {
  views_->recovered();
  for (auto& p : processes_)
    p->start();
}

// While the disk is full: once nothing decided on the failed appends is in
// flight and the disk has room, the aggregates that ran ahead of the log
// are rebuilt from it, and commands are taken again.
bool runtime::resume_log() {
  if (!stats_.wait_idle(k_watch_interval) || !log_->resume())
    return false;
  auto r = std::make_shared<reload_request>();
  r->ids = journal_->take_stale();
  auto done = r->done.get_future();
  size_t n = r->ids.size();
  caf::anon_send(router_, reload_atom::value, std::move(r));
  done.wait();
  k_log.info("the event log takes appends again; {} aggregates rebuilt from it", n);
  return true;
}

} // namespace sluice::actors

namespace sluice::engine {

std::expected<std::unique_ptr<engine>, error> start(const options& opts) {
  if (!opts.model)
    return std::unexpected(error{errc::no_model, "engine options name no domain model"});
  auto rt = std::make_unique<actors::runtime>(opts);
  if (auto r = rt->start(); !r)
    return std::unexpected(r.error());
  return rt;
}

} // namespace sluice::engine
