// The runtime's maintenance: checkpoints of the view shards and the
// history index (taken and loaded), and retention (SPEC §9).
//
// Retention deletes whole closed segments. Before it does, everything
// recovery would read from them exists elsewhere and is durable: a snapshot
// of every aggregate with events there (taken here from the log when the
// aggregate has none recent enough), a checkpoint of every view shard and of
// the history index at or past the cut. A crash at any point leaves either
// the segments or all of these.
#include "actors/runtime.h"

#include "base/checksum.h"
#include "base/logger.h"
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

shard_round_ptr runtime::ask_shards(bool restore) {
  auto r = std::make_shared<shard_round>();
  r->limit = log_->last_position();
  auto shards = serving_shards();
  if (shards.empty())
    return r;
  r->pending = shards.size();
  auto done = r->done.get_future();
  for (auto& s : shards)
    if (restore)
      caf::anon_send(s, restore_atom::value, r);
    else
      caf::anon_send(s, checkpoint_atom::value, r);
  done.wait();
  return r;
}

uint64_t runtime::restore_index() {
  if (!checkpoints_)
    return 0;
  bool found = false;
  auto c = log::read_checkpoint(checkpoints_->dir(), k_index_checkpoint, 0, 0, 1, found);
  if (!found)
    return 0;
  std::string why;
  if (!c)
    why = c.error();
  else if (c->fingerprint != index_layout(opts_.model->types()))
    why = "the aggregate types changed";
  else if (c->position > log_->last_position())
    why = fmt::format("it is at position {}, past the log's end {}", c->position, log_->last_position());
  else if (!index_.load(c->body)) {
    index_.clear_positions();
    why = "its body does not decode";
  }
  if (!why.empty()) {
    checkpoints_rejected_.fetch_add(1, std::memory_order_relaxed);
    k_log.warn("checkpoint of the history index not used: {}; it is rebuilt from the log", why);
    return 0;
  }
  // Positions retention deleted since (a crash before it forgot them).
  if (log_->first_position() > 1)
    index_.forget_before(log_->first_position());
  return c->position;
}

uint64_t runtime::checkpoint_index() {
  uint64_t at = journal_->indexed_to();
  if (!checkpoints_ || at <= index_checkpointed_)
    return index_checkpointed_;
  log::checkpoint c{std::string(k_index_checkpoint), 0, 0, 1, index_layout(opts_.model->types()), at, {}};
  index_.save(c.body, at);
  checkpoints_->write(std::move(c));
  index_checkpointed_ = at;
  return at;
}

void runtime::maintain() {
  std::unique_lock lk(maint_mu_);
  for (;;) {
    maint_cv_.wait_for(lk, opts_.maintenance_tick, [&] { return maint_stop_ || (segment_closed_ && ready_.load()); });
    if (maint_stop_)
      return;
    if (!ready_.load())
      continue;
    bool closed = std::exchange(segment_closed_, false);
    if (retention_retry_at_ && std::chrono::steady_clock::now() >= *retention_retry_at_) {
      retention_retry_at_.reset();
      closed = true;
    }
    lk.unlock();
    if (checkpoints_ && opts_.checkpoint_every > 0 &&
        journal_->indexed_to() >=
            index_checkpointed_ + std::max<uint64_t>(opts_.checkpoint_every, opts_.checkpoint_per_key * index_.size()))
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
void runtime::trim_memory() {
  constexpr uint64_t k_passivations = 16384; // or fewer, after a while
  constexpr auto k_interval = std::chrono::seconds(5), k_late = std::chrono::seconds(30);
  uint64_t passivated = stats_.passivations.load(std::memory_order_relaxed);
  uint64_t since = passivated - trimmed_at_passivations_;
  auto now = std::chrono::steady_clock::now();
  bool after_recovery = !trimmed_after_recovery_ && views_hold(recovered_to_.load());
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

bool runtime::views_hold(uint64_t position) const {
  std::lock_guard lk(views_mu_);
  for (auto& g : views_)
    if (!g.serving || g.serving->least_applied() < position)
      return false;
  return true;
}

bool runtime::retain() {
  auto all = log_->segments(); // the last is being written: never deleted
  size_t go = 0;               // segments [0, go) are beyond a limit
  if (opts_.retain_bytes > 0) {
    uint64_t kept = 0;
    size_t i = all.size();
    while (i > 0 && kept < opts_.retain_bytes)
      kept += all[--i].bytes;
    go = std::max(go, i);
  }
  if (opts_.retain_age.count() > 0) {
    auto limit = std::chrono::system_clock::now() - opts_.retain_age;
    size_t i = 0;
    while (i + 1 < all.size() && all[i].closed_at < limit)
      ++i;
    go = std::max(go, i);
  }
  go = std::min(go, all.size() - 1);
  if (go == 0)
    return false;
  uint64_t cut = all[go].base;
  auto held_back = [&](std::string why) {
    if (!retention_blocked_told_)
      k_log.warn("retention keeps the log before position {}: {}", cut, why);
    retention_blocked_told_ = true;
    return false;
  };

  // Views: each must be able to start from a checkpoint.
  for (auto* def : opts_.model->served_views())
    if (!checkpoints_ || def->make(0, opts_.shards)->checkpoint_fingerprint() == 0)
      return held_back(
          fmt::format("view {} takes no checkpoints{}", def->name, checkpoints_ ? "" : " (checkpoints are off)"));

  // A process recovers its unfinished instances from their first events.
  for (auto& p : processes_)
    if (p->keeps_from() < cut) {
      retention_retry_at_ = std::chrono::steady_clock::now() +
                            std::max<std::chrono::milliseconds>(opts_.maintenance_tick, std::chrono::milliseconds(100));
      return held_back(fmt::format("process {} needs the log from position {} on", p->name(), p->keeps_from()));
    }

  // A build reads the log from its start.
  {
    std::lock_guard lk(views_mu_);
    for (auto& g : views_)
      if (g.building)
        return held_back(fmt::format("view {} version {} builds from the log", g.name, g.building->def->version));
  }

  // Aggregates with events before the cut: a snapshot that covers them.
  for (auto* type : index_.types()) {
    auto& index = index_.of(type);
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
    if (!journal_->snapshots_enabled(*type))
      return held_back(fmt::format("{} aggregates of type {} have events there and the type takes no snapshots{}",
                                   stale.size(), type->name(), snapshots_ ? "" : " (snapshots are off)"));
    k_log.info("retention: taking {} snapshots of {} aggregates before deleting the log up to position {}",
               stale.size(), type->name(), cut - 1);
    std::string body;
    for (auto& id : stale) {
      if (stopping_.load())
        return false;
      domain::aggregate a(*type, id);
      if (!journal_->replay(a))
        return held_back(fmt::format("{} '{}' cannot be rebuilt from the log", type->name(), id));
      body.clear();
      a.encode_snapshot(body);
      uint64_t position = index.position(id, a.version());
      if (!journal_->save_snapshot(a, a.version(), position, body)) {
        snapshots_->flush(); // the writer's queue was full
        if (!journal_->save_snapshot(a, a.version(), position, body))
          return true;
      }
    }
  }
  if (snapshots_ && !snapshots_->sync())
    return held_back("the snapshot files cannot be synced");
  // What the writer recorded: every snapshot needed is in the index now.
  for (auto* type : index_.types()) {
    bool missing = false;
    index_.of(type).for_each([&](std::string_view, auto snap, uint64_t dropped, std::span<const uint64_t> positions) {
      if (positions.empty() || positions.front() >= cut)
        return;
      auto before =
          static_cast<uint64_t>(std::lower_bound(positions.begin(), positions.end(), cut) - positions.begin());
      missing = missing || snap.version < dropped + before;
    });
    if (missing)
      return true;
  }

  // Checkpoints at or past the cut: the views first have to get there.
  {
    std::lock_guard lk(views_mu_);
    for (auto& g : views_)
      if (g.serving && g.serving->least_applied() + 1 < cut)
        return true;
  }
  if (journal_->indexed_to() + 1 < cut)
    return true;
  uint64_t failed = checkpoints_->failed();
  auto shards = ask_shards(false);
  checkpoint_index();
  checkpoints_->flush();
  if (checkpoints_->failed() != failed || shards->least + 1 < cut || index_checkpointed_ + 1 < cut)
    return held_back("a checkpoint could not be written");

  auto bytes = log_->delete_before(cut);
  if (!bytes) {
    k_log.error("retention could not delete segments: {}", bytes.error().message);
    return false;
  }
  index_.forget_before(cut);
  retention_deleted_.fetch_add(*bytes, std::memory_order_relaxed);
  retention_blocked_told_ = false;
  k_log.info("retention deleted {} segments ({} bytes): the log starts at position {}", go, *bytes, cut);
  return false;
}

} // namespace sluice::actors
