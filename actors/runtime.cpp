// The engine implemented with CAF actors: the wiring of command bus,
// router, aggregates, journal and projections, and recovery.
#include "actors/aggregate_actor.h"
#include "actors/command_bus.h"
#include "actors/journal.h"
#include "actors/projection_actor.h"
#include "actors/router.h"
#include "actors/scheduler.h"
#include "base/logger.h"
#include "base/thread_name.h"
#include "domain/registry.h"
#include "engine/engine.h"
#include "views/projector.h"

#include <condition_variable>
#include <thread>

namespace sluice::engine {

namespace {

using namespace sluice::actors;

constexpr logger k_log("engine");
constexpr size_t k_recovery_batch = 4096; // events per batch handed to projections during replay

class runtime final : public engine {
 public:
  explicit runtime(const options& opts) : opts_(opts) {}
  ~runtime() override { stop(); }

  std::expected<void, std::string> start() {
    auto log = log::event_log::open({opts_.data_dir / "log", opts_.durability, opts_.segment_bytes});
    if (!log)
      return std::unexpected(log.error().message);
    log_ = std::move(*log);

    cfg_.set("scheduler.max-threads", opts_.threads ? opts_.threads : std::max(1u, std::thread::hardware_concurrency()));
    use_scheduler(cfg_);
    system_ = std::make_unique<caf::actor_system>(cfg_);
    journal_ = std::make_unique<journal>(*log_, stats_, index_);

    std::vector<caf::actor> all_projections;
    for (auto& def : views::builtin_views()) {
      auto& v = views_.emplace_back();
      v.name = def.name;
      for (uint32_t i = 0; i < opts_.shards; ++i) {
        auto shard = new views::view_shard(def.make(i, opts_.shards));
        v.applied.push_back(std::make_unique<std::atomic<uint64_t>>(0));
        v.shards.push_back(system_->spawn(projection_actor, shard, v.applied.back().get()));
        all_projections.push_back(v.shards.back());
      }
    }
    journal_actor_ = system_->spawn(journal_actor, journal_.get());
    journal_->bind(journal_actor_, std::move(all_projections));
    router_ = system_->spawn(router_actor, &bus_, journal_.get(), &stats_);
    bus_.bind(router_);

    recovery_ = std::thread([this] {
      name_this_thread("sluice.recover");
      recover();
    });
    return {};
  }

  void submit(domain::command cmd, command_callback done) override {
    command_result res;
    if (stopping_.load() || !ready_.load()) {
      res.status = command_status::not_ready;
      res.message = stopping_.load() ? "server is shutting down" : "recovery is still running";
      done(std::move(res));
      return;
    }
    if (log_->failed()) {
      // Fatal by design: whether failed bytes reached the disk is unknowable,
      // so state is rebuilt from what the log holds at the next start.
      res.status = command_status::failed;
      res.message = "the event log failed; restart the server to recover from the log";
      done(std::move(res));
      return;
    }
    if (stats_.in_flight.fetch_add(1, std::memory_order_relaxed) >= static_cast<int64_t>(opts_.max_in_flight)) {
      stats_.in_flight.fetch_sub(1, std::memory_order_relaxed);
      stats_.add(stats_.overloaded);
      res.status = command_status::overloaded;
      res.message = "too many commands in flight";
      done(std::move(res));
      return;
    }
    auto t = std::make_shared<ticket>();
    t->cmd = std::move(cmd);
    t->done = std::move(done);
    bus_.push(std::move(t));
  }

  bool read_view(std::string_view view, std::string_view key, uint64_t min_position, std::chrono::milliseconds timeout,
                 std::move_only_function<void(view_read)> done) override {
    auto* v = find_view(view);
    if (!v)
      return false;
    auto r = std::make_shared<read_request>();
    r->key = key;
    r->min_position = min_position;
    r->timeout = timeout;
    r->done = std::move(done);
    caf::anon_send(v->shards[views::shard_of(key, opts_.shards)], read_atom::value, std::move(r));
    return true;
  }

  bool list_view(std::string_view view, std::string_view after, size_t limit,
                 std::move_only_function<void(view_page)> done) override {
    auto* v = find_view(view);
    if (!v)
      return false;
    auto l = std::make_shared<list_request>();
    l->after = after;
    l->limit = limit;
    l->done = std::move(done);
    l->pending = v->shards.size();
    for (auto& s : v->shards)
      caf::anon_send(s, list_atom::value, l);
    return true;
  }

  std::shared_ptr<view_feed> subscribe_view(std::string_view view, std::string_view key,
                                            std::function<void()> wake) override {
    auto* v = find_view(view);
    if (!v)
      return nullptr;
    bool all = key == "*";
    auto feed = std::make_shared<view_feed>(std::move(wake), all ? v->shards.size() : 1);
    if (all)
      for (auto& s : v->shards)
        caf::anon_send(s, subscribe_atom::value, std::string(key), feed);
    else
      caf::anon_send(v->shards[views::shard_of(key, opts_.shards)], subscribe_atom::value, std::string(key), feed);
    return feed;
  }

  uint64_t add_durable_listener(std::function<void()> wake) override { return journal_->add_listener(std::move(wake)); }

  void remove_durable_listener(uint64_t id) override { journal_->remove_listener(id); }

  const log::event_log& log() const override { return *log_; }

  std::vector<history_part> aggregate_history(std::string_view id, size_t skip, size_t limit) const override {
    std::vector<history_part> parts;
    for (auto* type : index_.types()) {
      history_part p{type, 0, {}};
      p.positions = index_.of(type).positions(id, skip, limit, p.total);
      if (p.total > 0)
        parts.push_back(std::move(p));
    }
    return parts;
  }

  bool ready() const override { return ready_.load(); }

  bool wait_ready(std::chrono::milliseconds timeout) override {
    std::unique_lock lk(ready_mu_);
    return ready_cv_.wait_for(lk, timeout, [&] { return ready_.load() || failed_; });
  }

  metrics snapshot() const override {
    metrics m;
    m.commands_ok = stats_.ok.load();
    m.commands_rejected = stats_.rejected.load();
    m.commands_conflict = stats_.conflict.load();
    m.commands_duplicate = stats_.duplicate.load();
    m.commands_overloaded = stats_.overloaded.load();
    m.commands_invalid = stats_.invalid.load();
    m.aggregates_live = stats_.aggregates_live.load();
    m.in_flight = static_cast<uint64_t>(std::max<int64_t>(0, stats_.in_flight.load()));
    m.events_appended = log_->appended_records();
    m.log_syncs = log_->syncs();
    m.log_sync_duration = log_->sync_durations().read();
    m.command_duration = stats_.command_duration.read();
    m.command_bus_depth = bus_.depth();
    std::lock_guard lk(views_mu_);
    for (auto& v : views_) {
      uint64_t least = UINT64_MAX;
      for (auto& a : v.applied)
        least = std::min(least, a->load(std::memory_order_relaxed));
      m.view_positions.emplace_back(v.name, v.applied.empty() ? 0 : least);
    }
    m.log_position = log_->last_position();
    return m;
  }

  void stop() override {
    std::lock_guard once(stop_mu_);
    if (stopped_)
      return;
    stopped_ = true;
    stopping_.store(true);
    if (recovery_.joinable())
      recovery_.join();
    // Answer what is in flight: accepted commands need their sync.
    for (int i = 0; i < 30000 && stats_.in_flight.load() > 0; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    if (log_)
      log_->close();
    if (system_) {
      caf::anon_send_exit(router_, caf::exit_reason::user_shutdown);
      caf::anon_send_exit(journal_actor_, caf::exit_reason::user_shutdown);
      for (auto& v : views_)
        for (auto& s : v.shards)
          caf::anon_send_exit(s, caf::exit_reason::user_shutdown);
      router_ = nullptr;
      journal_actor_ = nullptr;
      for (auto& v : views_)
        v.shards.clear();
      system_.reset(); // waits for every actor to finish
      std::lock_guard lk(views_mu_); // the shards' applied counters go last
      views_.clear();
    }
  }

 private:
  struct view_actors {
    std::string_view name;
    std::vector<caf::actor> shards;
    std::vector<std::unique_ptr<std::atomic<uint64_t>>> applied;  ///< per shard, for metrics
  };

  view_actors* find_view(std::string_view name) {
    for (auto& v : views_)
      if (v.name == name)
        return &v;
    return nullptr;
  }

  // Replays the log into plain aggregates (given to the router, which makes
  // them actors on their first command) and into the projections.
  void recover() {
    auto started = std::chrono::steady_clock::now();
    auto& types = domain::registry::builtin();
    auto dormant = std::make_shared<dormant_aggregates>();
    auto batch = std::make_shared<views::event_batch>();
    std::string failure;
    uint64_t count = 0;
    auto r = log_->read(1, SIZE_MAX, [&](const log::record& rec) {
      if (stopping_.load()) {
        failure = "stopped during recovery";
        return false;
      }
      auto* type = types.type_of_event(rec.type);
      if (!type) {
        failure = fmt::format("position {}: unknown event type '{}'", rec.position, rec.type);
        return false;
      }
      auto& slot = (*dormant)[type][std::string(rec.aggregate_id)];
      if (!slot)
        slot = std::make_unique<domain::aggregate>(*type, std::string(rec.aggregate_id));
      if (!slot->apply(rec)) {
        failure = fmt::format("position {}: event does not apply to {} '{}'", rec.position, type->name(),
                              rec.aggregate_id);
        return false;
      }
      index_.of(type).add(rec.aggregate_id, rec.position);
      batch->add(rec);
      if (batch->size() >= k_recovery_batch) {
        journal_->publish(std::move(batch));
        batch = std::make_shared<views::event_batch>();
      }
      ++count;
      return true;
    });
    if (!r)
      failure = r.error().message;
    if (!failure.empty()) {
      k_log.error("recovery failed: {}", failure);
      std::lock_guard lk(ready_mu_);
      failed_ = true;
      ready_cv_.notify_all();
      return;
    }
    if (!batch->empty())
      journal_->publish(std::move(batch));
    size_t aggregates = 0;
    for (auto& [t, m] : *dormant)
      aggregates += m.size();
    caf::anon_send(router_, adopt_atom::value, std::move(dormant));
    auto took = std::chrono::steady_clock::now() - started;
    k_log.info("recovered {} events of {} aggregates in {} ms", count, aggregates,
               std::chrono::duration_cast<std::chrono::milliseconds>(took).count());
    std::lock_guard lk(ready_mu_);
    ready_.store(true);
    ready_cv_.notify_all();
  }

  options opts_;
  std::unique_ptr<log::event_log> log_;
  counters stats_;
  history_index index_{domain::registry::builtin().types()};
  caf::actor_system_config cfg_;
  std::unique_ptr<caf::actor_system> system_;
  std::unique_ptr<journal> journal_;
  caf::actor journal_actor_;
  command_bus bus_;
  caf::actor router_;
  std::vector<view_actors> views_;

  std::atomic<bool> ready_{false}, stopping_{false};
  bool failed_ = false;
  std::mutex ready_mu_;
  std::condition_variable ready_cv_;
  std::thread recovery_;
  std::mutex stop_mu_;
  mutable std::mutex views_mu_; ///< snapshot() against stop() clearing views_
  bool stopped_ = false;
};

} // namespace

std::expected<std::unique_ptr<engine>, std::string> start(const options& opts) {
  auto rt = std::make_unique<runtime>(opts);
  if (auto r = rt->start(); !r)
    return std::unexpected(r.error());
  return rt;
}

} // namespace sluice::engine
