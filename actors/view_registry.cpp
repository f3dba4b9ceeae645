// A build spawns shards of its own. They are registered with the journal
// first, then a builder thread feeds them the log from its start; a shard
// drops the journal's batches until one is contiguous with what it built
// (those it dropped are in the log, so the builder brings them), and is
// live from then on. Once every shard is live, the version takes over in one
// step: the journal stops sending to the old shards, whose last position
// becomes the floor of the new shards' answers, so a reader's position never
// goes back; the old shards hand their subscribers over and free their model.
#include "actors/view_registry.h"

#include "actors/messages.h"
#include "actors/projection_actor.h"
#include "base/logger.h"
#include "base/thread_name.h"
#include "views/event_batch.h"
#include "views/projector.h"

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

view_registry::view_registry(parts p) : p_(p) {}

view_registry::~view_registry() { join_builders(); }

uint64_t view_registry::instance::parked_events() const {
  uint64_t n = 0;
  for (auto& p : parked)
    n += p->load(std::memory_order_relaxed);
  return n;
}

uint64_t view_registry::instance::least_applied() const {
  uint64_t least = UINT64_MAX;
  for (auto& a : applied)
    least = std::min(least, a->load(std::memory_order_relaxed));
  return applied.empty() ? 0 : least;
}

view_registry::instance_ptr view_registry::spawn(const domain::view_definition* def, bool building) {
  auto inst = std::make_shared<instance>();
  inst->def = def;
  spawn_shards(*inst, building);
  return inst;
}

std::filesystem::path view_registry::errors_path(const domain::view_definition& def, bool building) const {
  return p_.opts.data_dir / "views" / fmt::format("{}.v{}.errors{}", def.name, def.version, building ? ".build" : "");
}

void view_registry::spawn_shards(instance& inst_ref, bool building) {
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
  policy.keep_parked = p_.opts.keep_parked;
  for (auto& [view, prefix] : p_.opts.drill_fail_views)
    if (view == def->name) {
      policy.drill = true;
      policy.drill_prefix = prefix;
    }
  for (uint32_t i = 0; i < p_.opts.shards; ++i) {
    auto shard = new views::view_shard(def->make(i, p_.opts.shards));
    inst->applied.push_back(std::make_unique<std::atomic<uint64_t>>(0));
    inst->parked.push_back(std::make_unique<std::atomic<uint64_t>>(0));
    projection_config pc{def,
                         i,
                         p_.opts.shards,
                         building ? nullptr : p_.checkpoints, // a build checkpoints once it serves
                         p_.opts.checkpoint_every,
                         p_.opts.checkpoint_per_key,
                         inst->applied.back().get(),
                         &p_.checkpoints_rejected,
                         building ? &inst->live : nullptr,
                         &inst->build_in_flight,
                         inst->parked.back().get(),
                         policy};
    inst->shards.push_back(p_.system.spawn(projection_actor, shard, pc));
  }
}

// Per view: the version that served last (<data>/views/serving) is filled
// by recovery, and a newer one builds once recovery is done. A view that
// file does not name, on a log that has events, is new in this build: it
// builds with nothing serving. A data directory from before that file
// serves what it did then (the newest version, or the newest with a
// checkpoint).
void view_registry::plan() {
  bool had_file = std::filesystem::exists(serving_file(p_.opts.data_dir));
  auto served = read_serving(p_.opts.data_dir);
  bool empty_log = p_.log.last_position() == 0;
  for (auto& def : p_.opts.model->views()) {
    auto it = std::ranges::find_if(groups_, [&](auto& g) { return g.name == def.name; });
    if (it == groups_.end())
      it = groups_.insert(groups_.end(), view_group{def.name, {}, nullptr, nullptr, 0});
    it->defs.push_back(&def);
  }
  for (size_t gi = 0; gi < groups_.size(); ++gi) {
    auto& g = groups_[gi];
    std::ranges::sort(g.defs, {}, &domain::view_definition::version);
    const domain::view_definition* serve = nullptr;
    if (auto s = served.find(g.name); s != served.end()) {
      for (auto* d : g.defs)
        if (d->version <= s->second)
          serve = d;
    } else if (empty_log || !had_file) {
      // Before that file, the newest version always served: it is
      // recovered as it was, unless only an older one has a checkpoint.
      if (p_.checkpoints)
        for (auto* d : g.defs)
          if (std::filesystem::exists(log::checkpoint_path(p_.checkpoints->dir(), fmt::format("view.{}", d->name),
                                                           d->version, 0, p_.opts.shards)))
            serve = d;
      if (!serve || empty_log)
        serve = g.defs.back();
    }
    if (serve)
      instances_.push_back(g.serving = spawn(serve, false));
    if (serve != g.defs.back())
      planned_builds_.emplace_back(gi, instances_.emplace_back(spawn(g.defs.back(), true)));
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

void view_registry::start_build(view_group& g, instance_ptr inst) {
  auto gi = static_cast<size_t>(&g - groups_.data());
  std::lock_guard lk(builders_mu_);
  if (p_.stopping.load())
    return;
  builders_.emplace_back([this, gi, inst = std::move(inst)] {
    name_this_thread("sluice.build");
    build(gi, inst);
  });
}

// Registers a build's shards with the journal and tells them where live
// batches start; returns the position the build reads from.
uint64_t view_registry::begin_build(const view_group& g, const instance_ptr& inst) {
  inst->build_started = std::chrono::steady_clock::now();
  if (inst->shards.empty()) {
    // A rebuild: spawned here rather than on the I/O thread that asked,
    // whose thread-local CAF state would outlive the actor system.
    std::lock_guard lk(mu_); // view_statuses() reads the counters
    spawn_shards(*inst, true);
    instances_.push_back(inst);
  }
  uint64_t from = p_.log.first_position();
  if (from > 1)
    k_log.warn("view {} version {} builds from position {}: retention deleted the events before it", g.name,
               inst->def->version, from);
  uint64_t live_from = p_.events.add_projections(inst->shards);
  for (auto& s : inst->shards)
    caf::anon_send(s, livefrom_atom::value, live_from);
  return from;
}

// Reads up to `size` events from `from` into one batch (empty: caught up).
std::expected<batch_ptr, log::error> view_registry::read_batch(uint64_t from, size_t size) const {
  auto batch = std::make_shared<views::event_batch>();
  auto r = p_.log.read(from, size, [&](const log::record& rec) {
    if (!batch->fits(rec))
      return false; // read again into the next batch
    batch->add(rec);
    return true;
  });
  if (!r)
    return std::unexpected(r.error());
  return batch;
}

void view_registry::build(size_t group, const instance_ptr& inst) {
  auto& g = groups_[group];
  uint64_t from = begin_build(g, inst);
  auto shards = static_cast<int64_t>(inst->shards.size());
  auto resume_at = std::chrono::steady_clock::now();
  uint64_t answered = p_.stats.answered();
  while (!p_.stopping.load() && inst->live.load() < inst->shards.size()) {
    // Live work is commands in flight or answered since the last look: a
    // server whose HTTP side is its bottleneck may hold none in flight.
    uint64_t now_answered = p_.stats.answered();
    bool busy = p_.stats.in_flight.load(std::memory_order_relaxed) > 0 || now_answered != answered;
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
    if (p_.opts.drill_slow_build)
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    auto batch = read_batch(from, p_.opts.drill_slow_build ? 16 : busy ? k_build_batch_busy : k_build_batch);
    if (!batch) {
      k_log.error("view {} version {}: the build cannot read the log: {}; it stops", g.name, inst->def->version,
                  batch.error().message);
      return;
    }
    inst->build_target.store(p_.log.last_position(), std::memory_order_relaxed);
    if ((*batch)->empty()) {
      std::this_thread::sleep_for(k_build_idle); // caught up with the log: the journal takes over
      continue;
    }
    from = (*batch)->last_position() + 1;
    inst->build_position.store((*batch)->last_position(), std::memory_order_relaxed);
    inst->build_in_flight.fetch_add(shards);
    for (auto& s : inst->shards)
      caf::anon_send(s, build_atom::value, *batch);
    if (!busy)
      continue;
    // Yields to live work: wait for the shards (they share the actor threads
    // with the aggregates), then stay away k_build_yield times as long.
    while (inst->build_in_flight.load() > 0 && !p_.stopping.load())
      std::this_thread::sleep_for(std::chrono::microseconds(50));
    auto took = std::chrono::steady_clock::now() - now;
    resume_at = std::chrono::steady_clock::now() + took * k_build_yield;
  }
  if (p_.stopping.load()) {
    p_.events.remove_projections(inst->shards);
    return;
  }
  swap(group, inst);
}

void view_registry::swap(size_t group, const instance_ptr& inst) {
  auto& g = groups_[group];
  instance_ptr old;
  {
    std::lock_guard lk(mu_);
    old = g.serving;
  }
  // The old shards get nothing after `at`: their answers never went past it.
  uint64_t at = old ? p_.events.remove_projections(old->shards) : 0;
  inst->floor.store(at);
  {
    std::lock_guard lk(mu_);
    g.serving = inst;
    g.building = nullptr;
    ++g.rebuilds;
  }
  for (size_t i = 0; i < inst->shards.size(); ++i) {
    caf::anon_send(inst->shards[i], serve_atom::value, checkpoints_ref{p_.checkpoints});
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

void view_registry::save_serving() const {
  std::string text;
  {
    std::lock_guard lk(mu_);
    for (auto& g : groups_)
      if (g.serving)
        text += fmt::format("{} {}\n", g.name, g.serving->def->version);
  }
  auto path = serving_file(p_.opts.data_dir);
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

view_registry::instance_ptr view_registry::find(sluice::engine::view_ref ref, bool* building) const {
  *building = false;
  std::lock_guard lk(mu_);
  for (auto& g : groups_) {
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

std::vector<caf::actor> view_registry::serving_shards() const {
  std::vector<caf::actor> out;
  std::lock_guard lk(mu_);
  for (auto& g : groups_)
    if (g.serving)
      out.insert(out.end(), g.serving->shards.begin(), g.serving->shards.end());
  return out;
}

std::vector<sluice::engine::view_status> view_registry::statuses() const {
  std::vector<sluice::engine::view_status> out;
  uint64_t end = p_.log.last_position();
  auto progress = [&](const instance& inst) {
    sluice::engine::view_status::build_progress b;
    b.position = inst.build_position.load(std::memory_order_relaxed);
    b.target = std::max(inst.build_target.load(std::memory_order_relaxed), b.position);
    auto secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - inst.build_started).count();
    b.events_per_second = secs > 0 ? static_cast<double>(b.position) / secs : 0;
    return b;
  };
  std::lock_guard lk(mu_);
  for (auto& g : groups_)
    for (auto* d : g.defs) {
      sluice::engine::view_status s;
      s.view = g.name;
      s.version = d->version;
      s.state = "retired";
      const instance* inst = nullptr;
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

sluice::engine::rebuild_status view_registry::rebuild(std::string_view view, uint32_t& version) {
  auto it = std::ranges::find_if(groups_, [&](auto& g) { return g.name == view; });
  if (it == groups_.end())
    return sluice::engine::rebuild_status::unknown_view;
  instance_ptr inst;
  {
    std::lock_guard lk(mu_);
    if (it->building || !it->serving)
      return sluice::engine::rebuild_status::running;
    version = it->serving->def->version;
    inst = std::make_shared<instance>(); // its shards are spawned by its builder
    inst->def = it->serving->def;
    it->building = inst;
  }
  k_log.info("view {} version {}: rebuild from the log's start asked for", it->name, version);
  start_build(*it, std::move(inst));
  return sluice::engine::rebuild_status::started;
}

void view_registry::recovered() {
  save_serving();
  for (auto& [group, inst] : planned_builds_)
    start_build(groups_[group], inst);
  planned_builds_.clear();
}

bool view_registry::hold(uint64_t position) const {
  std::lock_guard lk(mu_);
  for (auto& g : groups_)
    if (!g.serving || g.serving->least_applied() < position)
      return false;
  return true;
}

std::string view_registry::building() const {
  std::lock_guard lk(mu_);
  for (auto& g : groups_)
    if (g.building)
      return fmt::format("view {} version {} builds from the log", g.name, g.building->def->version);
  return {};
}

void view_registry::add_metrics(sluice::engine::metrics& m) const {
  uint64_t end = p_.log.last_position();
  std::lock_guard lk(mu_);
  for (auto& g : groups_) {
    auto& serving = g.serving ? g.serving : g.building;
    uint64_t at = serving ? serving->least_applied() : 0;
    m.view_positions.emplace_back(g.name, at);
    sluice::engine::metrics::view_metrics vm;
    vm.view = g.name;
    vm.lag = end > at ? end - at : 0;
    vm.rebuilds = g.rebuilds;
    vm.parked = serving ? serving->parked_events() : 0;
    if (g.building)
      vm.builds.emplace_back(g.building->def->version, g.building->build_position.load(std::memory_order_relaxed));
    m.views.push_back(std::move(vm));
  }
}

void view_registry::join_builders() {
  {
    std::lock_guard lk(builders_mu_); // no build starts after this (start_build checks stopping)
  }
  for (auto& b : builders_)
    if (b.joinable())
      b.join();
}

void view_registry::exit_shards() {
  for (auto& inst : instances_)
    for (auto& s : inst->shards)
      caf::anon_send_exit(s, caf::exit_reason::user_shutdown);
  std::lock_guard lk(mu_);
  for (auto& g : groups_)
    g.serving = g.building = nullptr;
  for (auto& inst : instances_)
    inst->shards.clear();
}

} // namespace sluice::actors
