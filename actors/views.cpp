// View versions (SPEC §10): which version serves, background builds of a
// newer one or of a rebuild, and the swap once a build has caught up.
//
// A build spawns shards of its own. They are registered with the journal
// first, then a builder thread feeds them the log from its start; a shard
// drops the journal's batches until one is contiguous with what it built
// (those it dropped are in the log, so the builder brings them), and is
// live from then on. Once every shard is live, the version takes over in one
// step: the journal stops sending to the old shards, whose last position
// becomes the floor of the new shards' answers, so a reader's position never
// goes back; the old shards hand their subscribers over and free their model.
#include "actors/projection_actor.h"
#include "actors/runtime.h"
#include "base/logger.h"
#include "base/thread_name.h"
#include "views/event_batch.h"

#include <fmt/format.h>

#include <fstream>
#include <map>

namespace sluice::actors {

namespace {

constexpr logger k_log("views");
constexpr size_t k_build_batch = 4096;     // events per builder batch when the server is idle
constexpr size_t k_build_batch_busy = 256; // with commands arriving: a short stall ahead of each of them
constexpr int64_t k_build_window = 4;      // builder batches in flight per shard when the server is idle
// With commands arriving the builder sleeps this many times as long as its
// last batch took, end to end: the build gets about a fifth of the machine.
constexpr int k_build_yield = 4;
constexpr auto k_build_idle = std::chrono::milliseconds(1);

std::filesystem::path serving_file(const std::filesystem::path& data) { return data / "views" / "serving"; }

// <data>/views/serving: a line "<view> <version>" per view that has served.
std::map<std::string, uint32_t, std::less<>> read_serving(const std::filesystem::path& data) {
  std::map<std::string, uint32_t, std::less<>> out;
  std::ifstream in(serving_file(data));
  std::string name;
  uint64_t version = 0;
  while (in >> name >> version)
    if (version > 0 && version <= UINT32_MAX)
      out[name] = static_cast<uint32_t>(version);
  return out;
}

} // namespace

uint64_t runtime::view_instance::parked_events() const {
  uint64_t n = 0;
  for (auto& p : parked)
    n += p->load(std::memory_order_relaxed);
  return n;
}

uint64_t runtime::view_instance::least_applied() const {
  uint64_t least = UINT64_MAX;
  for (auto& a : applied)
    least = std::min(least, a->load(std::memory_order_relaxed));
  return applied.empty() ? 0 : least;
}

runtime::instance_ptr runtime::spawn_view(const domain::view_definition* def, bool building) {
  auto inst = std::make_shared<view_instance>();
  inst->def = def;
  spawn_shards(*inst, building);
  return inst;
}

std::filesystem::path runtime::errors_path(const domain::view_definition& def, bool building) const {
  return opts_.data_dir / "views" / fmt::format("{}.v{}.errors{}", def.name, def.version, building ? ".build" : "");
}

void runtime::spawn_shards(view_instance& inst_ref, bool building) {
  auto* inst = &inst_ref;
  auto* def = inst->def;
  // A build keeps an error log of its own (a rebuild applies skipped events
  // afresh); it takes over the version's at the swap.
  auto path = errors_path(*def, building);
  if (building) {
    std::error_code ec;
    std::filesystem::remove(path, ec);
  }
  inst->errors = std::make_unique<views::error_log>(path);
  views::error_policy policy;
  policy.log = inst->errors.get();
  policy.keep_parked = opts_.keep_parked;
  for (auto& [view, prefix] : opts_.drill_fail_views)
    if (view == def->name) {
      policy.drill = true;
      policy.drill_prefix = prefix;
    }
  for (uint32_t i = 0; i < opts_.shards; ++i) {
    auto shard = new views::view_shard(def->make(i, opts_.shards));
    inst->applied.push_back(std::make_unique<std::atomic<uint64_t>>(0));
    inst->parked.push_back(std::make_unique<std::atomic<uint64_t>>(0));
    projection_config pc{def,
                         i,
                         opts_.shards,
                         building ? nullptr : checkpoints_.get(), // a build checkpoints once it serves
                         opts_.checkpoint_every,
                         opts_.checkpoint_per_key,
                         inst->applied.back().get(),
                         &checkpoints_rejected_,
                         building ? &inst->live : nullptr,
                         &inst->build_in_flight,
                         inst->parked.back().get(),
                         policy};
    inst->shards.push_back(system_->spawn(projection_actor, shard, pc));
  }
}

// Per view: the version that served last (<data>/views/serving) is filled
// by recovery, and a newer one builds once recovery is done. A view that
// file does not name, on a log that has events, is new in this build: it
// builds with nothing serving. A data directory from before that file
// serves what it did then (the newest version, or the newest with a
// checkpoint).
void runtime::plan_views() {
  bool had_file = std::filesystem::exists(serving_file(opts_.data_dir));
  auto served = read_serving(opts_.data_dir);
  bool empty_log = log_->last_position() == 0;
  for (auto& def : opts_.model->views()) {
    auto it = std::ranges::find_if(views_, [&](auto& g) { return g.name == def.name; });
    if (it == views_.end())
      it = views_.insert(views_.end(), view_group{def.name, {}, nullptr, nullptr, 0});
    it->defs.push_back(&def);
  }
  for (size_t gi = 0; gi < views_.size(); ++gi) {
    auto& g = views_[gi];
    std::ranges::sort(g.defs, {}, &domain::view_definition::version);
    const domain::view_definition* serve = nullptr;
    if (auto s = served.find(g.name); s != served.end()) {
      for (auto* d : g.defs)
        if (d->version <= s->second)
          serve = d;
    } else if (empty_log || !had_file) {
      // Before that file, the newest version always served: it is
      // recovered as it was, unless only an older one has a checkpoint.
      if (checkpoints_)
        for (auto* d : g.defs)
          if (std::filesystem::exists(log::checkpoint_path(checkpoints_->dir(), fmt::format("view.{}", d->name),
                                                           d->version, 0, opts_.shards)))
            serve = d;
      if (!serve || empty_log)
        serve = g.defs.back();
    }
    if (serve)
      instances_.push_back(g.serving = spawn_view(serve, false));
    if (serve != g.defs.back())
      planned_builds_.emplace_back(gi, instances_.emplace_back(spawn_view(g.defs.back(), true)));
    if (serve && serve != g.defs.back())
      k_log.info("view {}: version {} serves while version {} builds", g.name, serve->version, g.defs.back()->version);
    else if (!serve)
      k_log.info(
          "view {}: version {} is new: it builds from the log, and its reads answer view_building until "
          "it has caught up",
          g.name, g.defs.back()->version);
    if (!planned_builds_.empty() && planned_builds_.back().first == gi)
      g.building = planned_builds_.back().second;
  }
}

void runtime::start_build(view_group& g, instance_ptr inst) {
  auto gi = static_cast<size_t>(&g - views_.data());
  std::lock_guard lk(builders_mu_);
  if (stopping_.load())
    return;
  builders_.emplace_back([this, gi, inst = std::move(inst)] {
    name_this_thread("sluice.build");
    build(gi, inst);
  });
}

void runtime::build(size_t group, const instance_ptr& inst) {
  auto& g = views_[group];
  inst->build_started = std::chrono::steady_clock::now();
  if (inst->shards.empty()) {
    // A rebuild: spawned here rather than on the I/O thread that asked,
    // whose thread-local CAF state would outlive the actor system.
    std::lock_guard lk(views_mu_); // view_statuses() reads the counters
    spawn_shards(*inst, true);
    instances_.push_back(inst);
  }
  uint64_t from = log_->first_position();
  if (from > 1)
    k_log.warn("view {} version {} builds from position {}: retention deleted the events before it", g.name,
               inst->def->version, from);
  uint64_t live_from = journal_->add_projections(inst->shards);
  for (auto& s : inst->shards)
    caf::anon_send(s, livefrom_atom::value, live_from);
  auto shards = static_cast<int64_t>(inst->shards.size());
  auto resume_at = std::chrono::steady_clock::now();
  uint64_t answered = stats_.answered();
  while (!stopping_.load() && inst->live.load() < inst->shards.size()) {
    // Live work is commands in flight or answered since the last look: a
    // server whose HTTP side is its bottleneck may hold none in flight.
    uint64_t now_answered = stats_.answered();
    bool busy = stats_.in_flight.load(std::memory_order_relaxed) > 0 || now_answered != answered;
    answered = now_answered;
    auto now = std::chrono::steady_clock::now();
    if (busy && now < resume_at) {
      std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(resume_at - now, k_build_idle));
      continue;
    }
    if (inst->build_in_flight.load() >= (busy ? 1 : k_build_window) * shards) {
      std::this_thread::sleep_for(std::chrono::microseconds(100));
      continue;
    }
    if (opts_.drill_slow_build)
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    size_t size = opts_.drill_slow_build ? 16 : busy ? k_build_batch_busy : k_build_batch;
    auto batch = std::make_shared<views::event_batch>();
    auto r = log_->read(from, size, [&](const log::record& rec) {
      if (!batch->fits(rec))
        return false; // read again into the next batch
      batch->add(rec);
      return true;
    });
    if (!r) {
      k_log.error("view {} version {}: the build cannot read the log: {}; it stops", g.name, inst->def->version,
                  r.error().message);
      return;
    }
    inst->build_target.store(log_->last_position(), std::memory_order_relaxed);
    if (batch->empty()) {
      std::this_thread::sleep_for(k_build_idle); // caught up with the log: the journal takes over
      continue;
    }
    from = batch->last_position() + 1;
    inst->build_position.store(batch->last_position(), std::memory_order_relaxed);
    inst->build_in_flight.fetch_add(shards);
    batch_ptr shared = std::move(batch);
    for (auto& s : inst->shards)
      caf::anon_send(s, build_atom::value, shared);
    if (!busy)
      continue;
    // Yields to live work: wait for the shards (they share the actor threads
    // with the aggregates), then stay away k_build_yield times as long.
    while (inst->build_in_flight.load() > 0 && !stopping_.load())
      std::this_thread::sleep_for(std::chrono::microseconds(50));
    auto took = std::chrono::steady_clock::now() - now;
    resume_at = std::chrono::steady_clock::now() + took * k_build_yield;
  }
  if (stopping_.load()) {
    journal_->remove_projections(inst->shards);
    return;
  }
  swap(group, inst);
}

void runtime::swap(size_t group, const instance_ptr& inst) {
  auto& g = views_[group];
  instance_ptr old;
  {
    std::lock_guard lk(views_mu_);
    old = g.serving;
  }
  // The old shards get nothing after `at`: their answers never went past it.
  uint64_t at = old ? journal_->remove_projections(old->shards) : 0;
  inst->floor.store(at);
  {
    std::lock_guard lk(views_mu_);
    g.serving = inst;
    g.building = nullptr;
    ++g.rebuilds;
  }
  for (size_t i = 0; i < inst->shards.size(); ++i) {
    caf::anon_send(inst->shards[i], serve_atom::value, checkpoints_ref{checkpoints_.get()});
    if (old)
      caf::anon_send(old->shards[i], retire_atom::value, inst->shards[i], at);
  }
  inst->errors->move_to(errors_path(*inst->def, false));
  save_serving();
  auto took = std::chrono::steady_clock::now() - inst->build_started;
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(took).count();
  uint64_t events = inst->build_position.load();
  k_log.info("view {} version {} has caught up and serves{}: built {} events in {} ms ({:.0f} events/s)", g.name,
             inst->def->version, old ? fmt::format(" in place of version {}", old->def->version) : "", events, ms,
             ms > 0 ? static_cast<double>(events) * 1000.0 / static_cast<double>(ms) : 0.0);
}

void runtime::save_serving() const {
  std::string text;
  {
    std::lock_guard lk(views_mu_);
    for (auto& g : views_)
      if (g.serving)
        text += fmt::format("{} {}\n", g.name, g.serving->def->version);
  }
  auto path = serving_file(opts_.data_dir);
  std::error_code ec;
  std::filesystem::create_directories(path.parent_path(), ec);
  auto tmp = path;
  tmp += ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << text;
    out.flush();
    if (!out) {
      k_log.warn("cannot write {}: the next start may build views again", path.string());
      return;
    }
  }
  std::filesystem::rename(tmp, path, ec);
  if (ec)
    k_log.warn("cannot write {}: {}", path.string(), ec.message());
}

runtime::instance_ptr runtime::find_instance(sluice::engine::view_ref ref, bool* building) const {
  *building = false;
  std::lock_guard lk(views_mu_);
  for (auto& g : views_) {
    if (g.name != ref.name)
      continue;
    if (ref.version == 0 || (g.serving && g.serving->def->version == ref.version)) {
      if (g.serving)
        return g.serving;
      *building = g.building != nullptr;
      return g.building;
    }
    if (g.building && g.building->def->version == ref.version) {
      *building = true;
      return g.building;
    }
    return nullptr;
  }
  return nullptr;
}

std::vector<caf::actor> runtime::serving_shards() const {
  std::vector<caf::actor> out;
  std::lock_guard lk(views_mu_);
  for (auto& g : views_)
    if (g.serving)
      out.insert(out.end(), g.serving->shards.begin(), g.serving->shards.end());
  return out;
}

bool runtime::read_view(sluice::engine::view_ref view, std::string_view key, uint64_t min_position,
                        std::chrono::milliseconds timeout,
                        std::move_only_function<void(sluice::engine::view_read)> done) {
  bool building = false;
  auto inst = find_instance(view, &building);
  if (!inst)
    return false;
  if (building && min_position == 0) {
    sluice::engine::view_read res;
    res.status = sluice::engine::read_status::building;
    res.position = inst->least_applied();
    done(std::move(res));
    return true;
  }
  auto r = std::make_shared<read_request>();
  r->key = key;
  r->min_position = min_position;
  r->floor = inst->floor.load(std::memory_order_relaxed);
  r->timeout = timeout;
  r->done = std::move(done);
  caf::anon_send(inst->shards[views::shard_of(key, opts_.shards)], read_atom::value, std::move(r));
  return true;
}

bool runtime::list_view(sluice::engine::view_ref view, std::string_view after, size_t limit,
                        std::move_only_function<void(sluice::engine::view_page)> done) {
  bool building = false;
  auto inst = find_instance(view, &building);
  if (!inst)
    return false;
  if (building) {
    sluice::engine::view_page page;
    page.building = true;
    page.position = inst->least_applied();
    done(std::move(page));
    return true;
  }
  auto l = std::make_shared<list_request>();
  l->floor = inst->floor.load(std::memory_order_relaxed);
  l->after = after;
  l->limit = limit;
  l->done = std::move(done);
  l->pending = inst->shards.size();
  for (auto& s : inst->shards)
    caf::anon_send(s, list_atom::value, l);
  return true;
}

std::shared_ptr<sluice::engine::view_feed> runtime::subscribe_view(sluice::engine::view_ref view, std::string_view key,
                                                                   std::function<void()> wake) {
  bool building = false;
  auto inst = find_instance(view, &building);
  if (!inst || building)
    return nullptr;
  bool all = key == "*";
  auto feed = std::make_shared<sluice::engine::view_feed>(std::move(wake), all ? inst->shards.size() : 1);
  if (all)
    for (auto& s : inst->shards)
      caf::anon_send(s, subscribe_atom::value, std::string(key), feed);
  else
    caf::anon_send(inst->shards[views::shard_of(key, opts_.shards)], subscribe_atom::value, std::string(key), feed);
  return feed;
}

sluice::engine::view_state runtime::state_of(sluice::engine::view_ref view) const {
  bool building = false;
  auto inst = find_instance(view, &building);
  if (!inst)
    return sluice::engine::view_state::unknown;
  return building ? sluice::engine::view_state::building : sluice::engine::view_state::serving;
}

std::vector<sluice::engine::view_status> runtime::view_statuses() const {
  std::vector<sluice::engine::view_status> out;
  uint64_t end = log_->last_position();
  auto progress = [&](const view_instance& inst) {
    sluice::engine::view_status::build_progress b;
    b.position = inst.build_position.load(std::memory_order_relaxed);
    b.target = std::max(inst.build_target.load(std::memory_order_relaxed), b.position);
    auto secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - inst.build_started).count();
    b.events_per_second = secs > 0 ? static_cast<double>(b.position) / secs : 0;
    return b;
  };
  std::lock_guard lk(views_mu_);
  for (auto& g : views_)
    for (auto* d : g.defs) {
      sluice::engine::view_status s;
      s.view = g.name;
      s.version = d->version;
      s.state = "retired";
      const view_instance* inst = nullptr;
      if (g.serving && g.serving->def == d) {
        s.state = "serving";
        inst = g.serving.get();
        if (g.building && g.building->def == d)
          s.build = progress(*g.building);
      } else if (g.building && g.building->def == d) {
        s.state = "building";
        inst = g.building.get();
        s.build = progress(*inst);
      }
      if (inst) {
        s.position = inst->least_applied();
        s.lag = end > s.position ? end - s.position : 0;
        s.parked = inst->parked_events();
      }
      out.push_back(s);
    }
  return out;
}

sluice::engine::rebuild_status runtime::rebuild_view(std::string_view view, uint32_t& version) {
  auto it = std::ranges::find_if(views_, [&](auto& g) { return g.name == view; });
  if (it == views_.end())
    return sluice::engine::rebuild_status::unknown_view;
  instance_ptr inst;
  {
    std::lock_guard lk(views_mu_);
    if (it->building || !it->serving)
      return sluice::engine::rebuild_status::running;
    version = it->serving->def->version;
    inst = std::make_shared<view_instance>(); // its shards are spawned by its builder
    inst->def = it->serving->def;
    it->building = inst;
  }
  k_log.info("view {} version {}: rebuild from the log's start asked for", it->name, version);
  start_build(*it, std::move(inst));
  return sluice::engine::rebuild_status::started;
}

bool runtime::view_errors(std::string_view view, std::string_view after, size_t limit,
                          std::move_only_function<void(sluice::engine::view_errors_page)> done) {
  bool building = false;
  auto inst = find_instance(view, &building);
  if (!inst || inst->shards.empty())
    return false;
  auto q = std::make_shared<errors_request>();
  q->after = after;
  q->limit = limit;
  q->done = std::move(done);
  q->pending = inst->shards.size();
  for (auto& s : inst->shards)
    caf::anon_send(s, errors_atom::value, q);
  return true;
}

bool runtime::replay_view_errors(std::string_view view, std::string_view key,
                                 std::move_only_function<void(size_t, size_t)> done) {
  bool building = false;
  auto inst = find_instance(view, &building);
  if (!inst || inst->shards.empty())
    return false;
  auto a = std::make_shared<error_action>();
  a->key = key;
  a->done = [done = std::move(done)](size_t replayed, size_t still, uint64_t) mutable { done(replayed, still); };
  if (key.empty()) {
    a->pending = inst->shards.size();
    for (auto& s : inst->shards)
      caf::anon_send(s, replay_atom::value, a);
  } else {
    a->pending = 1;
    caf::anon_send(inst->shards[views::shard_of(key, opts_.shards)], replay_atom::value, a);
  }
  return true;
}

bool runtime::skip_view_errors(std::string_view view, std::string_view key,
                               std::move_only_function<void(uint64_t)> done) {
  bool building = false;
  auto inst = find_instance(view, &building);
  if (!inst || inst->shards.empty())
    return false;
  auto a = std::make_shared<error_action>();
  a->key = key;
  a->pending = 1;
  a->done = [done = std::move(done), name = std::string(view), k = std::string(key)](size_t, size_t,
                                                                                     uint64_t skipped) mutable {
    if (skipped > 0)
      k_log.warn("view {}: the {} parked events of key '{}' are skipped (the admin API)", name, skipped, k);
    done(skipped);
  };
  caf::anon_send(inst->shards[views::shard_of(key, opts_.shards)], skip_atom::value, a);
  return true;
}

} // namespace sluice::actors
