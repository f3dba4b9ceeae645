// Retention deletes whole closed segments. Before it does, everything
// recovery would read from them exists elsewhere and is durable: a snapshot
// of every aggregate with events there (taken here from the log when the
// aggregate has none recent enough), a checkpoint of every view shard and of
// the history index at or past the cut. A crash at any point leaves either
// the segments or all of these.
#include "actors/maintenance.h"

#include "base/checksum.h"
#include "base/logger.h"
#include "base/thread_name.h"
#include "domain/aggregate.h"
#include "views/projector.h"

#include <fmt/format.h>

#include <malloc.h>

namespace sluice::actors {

namespace {

constexpr logger k_log("maintenance");
constexpr std::string_view k_index_checkpoint = "history";

// The index checkpoint's layout: its format and the types it names.
uint64_t index_layout(const domain::registry& types) {
  std::string parts = "history.1";
  for (auto* t : types.types()) {
    parts += '/';
    parts += t->name();
  }
  return checksum64(parts.data(), parts.size());
}

} // namespace

maintenance::maintenance(parts p) : p_(std::move(p)), trimmed_at_(std::chrono::steady_clock::now()) {}

maintenance::~maintenance() { stop(); }

void maintenance::start(std::function<bool()> ready) {
  thread_ = std::thread([this, ready = std::move(ready)] {
    name_this_thread("sluice.maint");
    loop(ready);
  });
}

void maintenance::segment_closed() {
  {
    std::lock_guard lk(mu_);
    segment_closed_ = true;
  }
  cv_.notify_all();
}

void maintenance::stop() {
  {
    std::lock_guard lk(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable())
    thread_.join();
}

uint64_t maintenance::restore_index() {
  auto* checkpoints = p_.checkpoints;
  if (!checkpoints)
    return 0;
  bool found = false;
  auto c = log::read_checkpoint(checkpoints->dir(), k_index_checkpoint, 0, 0, 1, found);
  if (!found)
    return 0;
  std::string why;
  if (!c)
    why = c.error();
  else if (c->fingerprint != index_layout(p_.opts.model->types()))
    why = "the aggregate types changed";
  else if (c->position > p_.log.last_position())
    why = fmt::format("it is at position {}, past the log's end {}", c->position, p_.log.last_position());
  else if (!p_.index.load(c->body)) {
    p_.index.clear_positions();
    why = "its body does not decode";
  }
  if (!why.empty()) {
    p_.checkpoints_rejected.fetch_add(1, std::memory_order_relaxed);
    k_log.warn("checkpoint of the history index not used: {}; it is rebuilt from the log", why);
    return 0;
  }
  // Positions retention deleted since (a crash before it forgot them).
  if (p_.log.first_position() > 1)
    p_.index.forget_before(p_.log.first_position());
  return c->position;
}

void maintenance::recovered(uint64_t last_position, uint64_t indexed) {
  index_checkpointed_ = indexed;
  recovered_to_.store(last_position);
}

uint64_t maintenance::checkpoint_index() {
  uint64_t at = p_.events.indexed_to();
  if (!p_.checkpoints || at <= index_checkpointed_)
    return index_checkpointed_;
  log::checkpoint c{std::string(k_index_checkpoint), 0, 0, 1, index_layout(p_.opts.model->types()), at, {}};
  p_.index.save(c.body, at);
  p_.checkpoints->write(std::move(c));
  index_checkpointed_ = at;
  return at;
}

void maintenance::loop(const std::function<bool()>& ready) {
  auto& o = p_.opts;
  std::unique_lock lk(mu_);
  for (;;) {
    cv_.wait_for(lk, o.maintenance_tick, [&] { return stop_ || (segment_closed_ && ready()); });
    if (stop_)
      return;
    if (!ready())
      continue;
    bool closed = std::exchange(segment_closed_, false);
    if (retention_retry_at_ && std::chrono::steady_clock::now() >= *retention_retry_at_) {
      retention_retry_at_.reset();
      closed = true;
    }
    lk.unlock();
    uint64_t every = std::max<uint64_t>(o.checkpoint_every, o.checkpoint_per_key * p_.index.size());
    if (p_.checkpoints && o.checkpoint_every > 0 && p_.events.indexed_to() >= index_checkpointed_ + every)
      checkpoint_index();
    bool again = closed && retention_on() && retain();
    trim_memory();
    lk.lock();
    if (again)
      segment_closed_ = true; // at the next tick
  }
}

// A passivated aggregate frees its actor, state and window on an actor
// thread, into that thread's malloc arena, where glibc keeps the pages:
// resident memory would stay at the peak of live aggregates for good. Once
// many have gone, the free pages go back to the kernel (off the actor
// threads; it locks each arena in turn for the time of its walk).
//
// Recovery's batches (tens of MB in flight) are freed by the projection
// threads as they apply them: once every view holds the replayed events,
// those pages go back too, once.
void maintenance::trim_memory() {
  constexpr uint64_t k_passivations = 16384; // or fewer, after a while
  constexpr auto k_interval = std::chrono::seconds(5), k_late = std::chrono::seconds(30);
  uint64_t passivated = p_.stats.passivations.load(std::memory_order_relaxed);
  uint64_t since = passivated - trimmed_at_passivations_;
  auto now = std::chrono::steady_clock::now();
  bool after_recovery = !trimmed_after_recovery_ && p_.views.hold(recovered_to_.load());
  if (!after_recovery && (since == 0 || now - trimmed_at_ < (since >= k_passivations ? k_interval : k_late)))
    return;
  trimmed_after_recovery_ = trimmed_after_recovery_ || after_recovery;
  trimmed_at_passivations_ = passivated;
  trimmed_at_ = now;
  ::malloc_trim(0);
  memory_trims_.fetch_add(1, std::memory_order_relaxed);
  k_log.debug("memory trimmed after {} passivations in {} us", passivated,
              std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - now).count());
}

size_t maintenance::beyond_limits(std::span<const log::segment_info> all, uint64_t retain_bytes,
                                  std::chrono::seconds retain_age, std::chrono::system_clock::time_point now) {
  if (all.empty())
    return 0;
  size_t go = 0; // segments [0, go) are beyond a limit
  if (retain_bytes > 0) {
    uint64_t kept = 0;
    size_t i = all.size();
    while (i > 0 && kept < retain_bytes)
      kept += all[--i].bytes;
    go = std::max(go, i);
  }
  if (retain_age.count() > 0) {
    auto limit = now - retain_age;
    size_t i = 0;
    while (i + 1 < all.size() && all[i].closed_at < limit)
      ++i;
    go = std::max(go, i);
  }
  return std::min(go, all.size() - 1); // the last is being written: never deleted
}

bool maintenance::held_back(uint64_t cut, const std::string& why) {
  if (!retention_blocked_told_)
    k_log.warn("retention keeps the log before position {}: {}", cut, why);
  retention_blocked_told_ = true;
  return false;
}

// Aggregates with events before the cut need a snapshot that covers them.
std::optional<bool> maintenance::snapshot_before(uint64_t cut) {
  for (auto* type : p_.index.types()) {
    auto& index = p_.index.of(type);
    std::vector<std::string> stale;
    index.for_each([&](std::string_view id, auto snap, uint64_t dropped, std::span<const uint64_t> positions) {
      if (positions.empty() || positions.front() >= cut)
        return;
      auto before =
          static_cast<uint64_t>(std::lower_bound(positions.begin(), positions.end(), cut) - positions.begin());
      if (snap.version < dropped + before)
        stale.emplace_back(id);
    });
    if (stale.empty())
      continue;
    if (!p_.events.snapshots_enabled(*type))
      return held_back(cut, fmt::format("{} aggregates of type {} have events there and the type takes no snapshots{}",
                                        stale.size(), type->name(), p_.snapshots ? "" : " (snapshots are off)"));
    k_log.info("retention: taking {} snapshots of {} aggregates before deleting the log up to position {}",
               stale.size(), type->name(), cut - 1);
    std::string body;
    for (auto& id : stale) {
      if (p_.stopping.load())
        return false;
      domain::aggregate a(*type, id);
      if (!p_.events.replay(a))
        return held_back(cut, fmt::format("{} '{}' cannot be rebuilt from the log", type->name(), id));
      body.clear();
      a.encode_snapshot(body);
      uint64_t position = index.position(id, a.version());
      if (!p_.events.save_snapshot(a, a.version(), position, body)) {
        p_.snapshots->flush(); // the writer's queue was full
        if (!p_.events.save_snapshot(a, a.version(), position, body))
          return true;
      }
    }
  }
  if (p_.snapshots && !p_.snapshots->sync())
    return held_back(cut, "the snapshot files cannot be synced");
  return std::nullopt;
}

// What the snapshot writer recorded: every snapshot needed is in the index.
bool maintenance::snapshots_cover(uint64_t cut) const {
  for (auto* type : p_.index.types()) {
    bool missing = false;
    p_.index.of(type).for_each([&](std::string_view, auto snap, uint64_t dropped, std::span<const uint64_t> positions) {
      if (positions.empty() || positions.front() >= cut)
        return;
      auto before =
          static_cast<uint64_t>(std::lower_bound(positions.begin(), positions.end(), cut) - positions.begin());
      missing = missing || snap.version < dropped + before;
    });
    if (missing)
      return false;
  }
  return true;
}

bool maintenance::retain() {
  auto& o = p_.opts;
  auto all = p_.log.segments();
  size_t go = beyond_limits(all, o.retain_bytes, o.retain_age, std::chrono::system_clock::now());
  if (go == 0)
    return false;
  uint64_t cut = all[go].base;

  // Views: each must be able to start from a checkpoint.
  for (auto* def : o.model->served_views())
    if (!p_.checkpoints || def->make(0, o.shards)->checkpoint_fingerprint() == 0)
      return held_back(cut, fmt::format("view {} takes no checkpoints{}", def->name,
                                        p_.checkpoints ? "" : " (checkpoints are off)"));
  // A process recovers its unfinished instances from their first events.
  for (auto& proc : p_.processes)
    if (proc->keeps_from() < cut) {
      retention_retry_at_ = std::chrono::steady_clock::now() +
                            std::max<std::chrono::milliseconds>(o.maintenance_tick, std::chrono::milliseconds(100));
      return held_back(cut,
                       fmt::format("process {} needs the log from position {} on", proc->name(), proc->keeps_from()));
    }
  // A build reads the log from its start.
  if (auto build = p_.views.building(); !build.empty())
    return held_back(cut, build);
  if (auto r = snapshot_before(cut))
    return *r;
  if (!snapshots_cover(cut))
    return true;

  // Checkpoints at or past the cut: the views first have to get there.
  if (!p_.views.hold(cut - 1) || p_.events.indexed_to() + 1 < cut)
    return true;
  uint64_t failed = p_.checkpoints->failed();
  uint64_t shards_at = p_.views.checkpoint_shards();
  checkpoint_index();
  p_.checkpoints->flush();
  bool shards_behind = shards_at != UINT64_MAX && shards_at + 1 < cut; // UINT64_MAX: no shard
  if (p_.checkpoints->failed() != failed || shards_behind || index_checkpointed_ + 1 < cut)
    return held_back(cut, "a checkpoint could not be written");

  auto bytes = p_.log.delete_before(cut);
  if (!bytes) {
    k_log.error("retention could not delete segments: {}", bytes.error().message);
    return false;
  }
  p_.index.forget_before(cut);
  retention_deleted_.fetch_add(*bytes, std::memory_order_relaxed);
  retention_blocked_told_ = false;
  k_log.info("retention deleted {} segments ({} bytes): the log starts at position {}", go, *bytes, cut);
  return false;
}

} // namespace sluice::actors
