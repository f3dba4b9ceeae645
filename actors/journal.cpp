#include "actors/journal.h"

#include "base/clock.h"
#include "base/logger.h"

#include <algorithm>

namespace sluice::actors {

namespace {
constexpr logger k_log("journal");
} // namespace

void journal::push(std::vector<entry>& entries) {
  if (entries.empty())
    return;
  bool wake;
  {
    std::lock_guard lk(mu_);
    if (queue_.empty())
      queue_.swap(entries);
    else
      queue_.insert(queue_.end(), std::make_move_iterator(entries.begin()), std::make_move_iterator(entries.end()));
    wake = !scheduled_;
    scheduled_ = true;
  }
  entries.clear();
  if (wake)
    caf::anon_send(self_, drain_atom::value);
}

bool journal::drain() {
  std::vector<entry> entries;
  {
    std::lock_guard lk(mu_);
    if (queue_.empty()) {
      scheduled_ = false;
      return false;
    }
    entries.swap(queue_);
  }
  // One timestamp per group commit: the events' time is when they are appended.
  int64_t time_us = now_us();
  // Several appends when the store bounds a group (a stream message);
  // a command's events stay in one.
  size_t cap = log_.max_group_bytes();
  log::write_batch batch;
  size_t first = 0;
  auto append = [&](size_t end) {
    std::vector<entry> part;
    if (first == 0 && end == entries.size())
      part = std::move(entries);
    else
      part.assign(std::make_move_iterator(entries.begin() + static_cast<ptrdiff_t>(first)),
                  std::make_move_iterator(entries.begin() + static_cast<ptrdiff_t>(end)));
    log_.append(std::move(batch),
                [this, time_us, part = std::move(part)](auto r) mutable { complete(part, time_us, r); });
    batch = {};
    first = end;
  };
  for (size_t i = 0; i < entries.size(); ++i) {
    auto& e = entries[i];
    auto version = e.outcome.version - e.events.size();
    if (cap != SIZE_MAX) {
      size_t bytes = 0;
      for (auto& ev : e.events)
        bytes += log::write_batch::encoded_size(
            {0, 0, time_us, ev.type, e.t->cmd.aggregate_id, e.t->cmd.command_id, ev.data, ev.schema});
      if (i > first && batch.bytes() + bytes > cap)
        append(i);
    }
    for (auto& ev : e.events)
      batch.add({0, ++version, time_us, ev.type, e.t->cmd.aggregate_id, e.t->cmd.command_id, ev.data, ev.schema});
  }
  append(entries.size());
  return true; // drain again: the next turn finds more or clears `scheduled_`
}

void journal::complete(std::vector<entry>& entries, int64_t time_us, std::expected<log::append_result, log::error> r) {
  if (!r) {
    bool full = r.error().code == log::errc::no_space;
    if (full) {
      std::lock_guard lk(stale_mu_);
      for (auto& e : entries)
        stale_.emplace_back(e.t->cmd.type, std::string(e.t->cmd.aggregate_id));
    } else
      k_log.error("append failed: {}", r.error().message);
    // Refused, nothing stored (fenced; or one command past the group
    // bound): rebuilt from the log, asked before the answers, so that a
    // retry is not decided on the refused state.
    auto code = r.error().code;
    if ((code == log::errc::fenced || code == log::errc::invalid_argument) && on_refused_) {
      std::vector<std::pair<const domain::aggregate_type*, std::string>> ids;
      ids.reserve(entries.size());
      for (auto& e : entries)
        ids.emplace_back(e.t->cmd.type, std::string(e.t->cmd.aggregate_id));
      on_refused_(std::move(ids));
    }
    for (auto& e : entries) {
      engine::command_result res;
      res.status = full ? engine::command_status::log_unavailable : engine::command_status::failed;
      res.message = r.error().message;
      e.t->answer(std::move(res), stats_);
      stats_.finish();
    }
    if (full && on_unavailable_)
      on_unavailable_();
    return;
  }
  auto batch = std::make_shared<views::event_batch>();
  std::vector<std::shared_ptr<views::event_batch>> full; // none but for a group past 4 GiB
  uint64_t position = r->first;
  indexed_.clear();
  for (auto& e : entries) {
    auto version = e.outcome.version - e.events.size();
    for (auto& ev : e.events) {
      indexed_.push_back({e.t->cmd.type, e.t->cmd.aggregate_id, position, version + 1});
      log::record rec{position++,          ++version, time_us,  ev.type, e.t->cmd.aggregate_id,
                      e.t->cmd.command_id, ev.data,   ev.schema};
      if (!batch->fits(rec)) { // past 4 GiB: the views get the group in several batches, in order
        full.push_back(std::move(batch));
        batch = std::make_shared<views::event_batch>();
      }
      batch->add(rec);
    }
  }
  // Indexed before anyone hears of it: an acknowledged event is in its history.
  index_.add(indexed_);
  indexed_to_.store(r->last, std::memory_order_release);
  if (indexed_.capacity() > 4096) // a burst's scratch is not kept for good
    indexed_ = {};
  position = r->first;
  // Counted once per group (these counters are shared with every producer),
  // before the answers: a client that reads the metrics after its answer
  // finds its command counted.
  stats_.ok.fetch_add(entries.size(), std::memory_order_relaxed);
  auto now = std::chrono::steady_clock::now();
  for (auto& e : entries) {
    position += e.events.size();
    engine::command_result res;
    res.outcome = std::move(e.outcome);
    res.position = position - 1;
    e.t->answer(std::move(res), stats_, now);
  }
  stats_.finish(static_cast<int64_t>(entries.size()));
  for (auto& b : full)
    publish(std::move(b));
  publish(std::move(batch));
}

std::vector<std::pair<const domain::aggregate_type*, std::string>> journal::take_stale() {
  std::lock_guard lk(stale_mu_);
  auto out = std::move(stale_);
  stale_.clear();
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

bool journal::save_snapshot(const domain::aggregate& a, uint64_t version, uint64_t position, std::string body) const {
  if (!snapshots_enabled(a.type()))
    return false;
  // Every event up to `version` is durable, so indexed: the window's entries get their positions.
  domain::aggregate::settle_positions(body, [&](uint64_t v) { return durable_position(a.type(), a.id(), v); });
  log::snapshot s{a.type().state_fingerprint(), version, position,
                  std::string(a.type().name()), a.id(),  std::move(body)};
  return snapshots_->write(std::move(s));
}

namespace {
// Rejections are counted; the first few are also told, not ten million
// after a change of state layout.
void warn_rejected(const domain::aggregate& a, std::string_view why) {
  static std::atomic<int> told{0};
  if (told.fetch_add(1, std::memory_order_relaxed) < 10)
    k_log.warn(
        "snapshot of {} '{}' not used: {}; rebuilt from the log (further ones are only counted in "
        "sluice_snapshots_rejected_total)",
        a.type().name(), a.id(), why);
}
} // namespace

bool journal::replay(domain::aggregate& a, uint64_t* from_snapshot) const {
  // One read goes on across short gaps to the aggregate's next event; a
  // long gap is skipped by reading again from that event.
  constexpr uint64_t k_gap = 512;
  a.reset();
  if (from_snapshot)
    *from_snapshot = 0;
  auto& index = index_.of(&a.type());
  auto h = index.history_of(a.id());
  auto& positions = h.positions;
  // positions[i] holds version h.dropped + i + 1; `next` counts versions applied.
  size_t next = 0;
  if (h.snapshot.ref != 0 && snapshots_) {
    std::string why;
    auto s = snapshots_->read(h.snapshot.ref);
    if (!s)
      why = s.error();
    else if (s->type != a.type().name() || s->id != a.id())
      why = "the record names another aggregate";
    else if (s->fingerprint != a.type().state_fingerprint())
      why = "the state's layout changed (fingerprint)";
    else if (s->version < h.dropped || s->version - h.dropped > positions.size() ||
             (s->version > h.dropped && positions[s->version - h.dropped - 1] != s->position) || s->version == 0)
      why = "it does not match the log";
    else if (!a.restore(s->body) || a.version() != s->version)
      why = "its body does not decode";
    if (why.empty()) {
      next = s->version;
      if (from_snapshot)
        *from_snapshot = next;
    } else {
      stats_.snapshots_rejected.fetch_add(1, std::memory_order_relaxed);
      warn_rejected(a, why);
      index.drop_snapshot(a.id(), h.snapshot.ref);
      a.reset();
    }
  }
  // Without a snapshot that covers them, events no longer in the log
  // cannot be replayed: the aggregate cannot be rebuilt.
  if (next < h.dropped)
    return false;
  next -= h.dropped; // from here on an index into `positions`
  bool ok = true;
  while (ok && next < positions.size()) {
    size_t before = next;
    auto r = log_.read(positions[next], SIZE_MAX, [&](const log::record& rec) {
      if (rec.position == positions[next]) {
        ok = a.apply(rec);
        if (!ok || ++next == positions.size())
          return false;
      }
      return rec.position + k_gap >= positions[next];
    });
    if (!r || next == before)
      return false;
  }
  return ok;
}

uint64_t journal::deleted_position(const domain::aggregate& live, const domain::command& cmd) const {
  // A copy from the snapshot and the retained events: `live` may be ahead
  // of the log (commands in flight) and is left as it is.
  domain::aggregate copy(live.type(), live.id());
  if (!replay(copy))
    return 0;
  domain::event_list events;
  auto o = copy.handle(cmd, events);
  return o.result == domain::outcome::kind::duplicate ? o.position : 0;
}

void journal::publish(const batch_ptr& b) {
  {
    std::lock_guard lk(projections_mu_);
    for (auto& p : projections_)
      caf::anon_send(p, apply_atom::value, b);
    if (!b->empty())
      published_to_ = b->last_position();
  }
  std::lock_guard lk(listeners_mu_);
  for (auto& [id, wake] : listeners_)
    wake();
}

uint64_t journal::add_projections(const std::vector<caf::actor>& shards) {
  std::lock_guard lk(projections_mu_);
  projections_.insert(projections_.end(), shards.begin(), shards.end());
  // What recovery loaded from checkpoints was never published.
  return std::max(published_to_, indexed_to());
}

uint64_t journal::remove_projections(const std::vector<caf::actor>& shards) {
  std::lock_guard lk(projections_mu_);
  std::erase_if(projections_, [&](const caf::actor& p) { return std::ranges::find(shards, p) != shards.end(); });
  return published_to_;
}

uint64_t journal::add_listener(std::function<void()> wake) {
  std::lock_guard lk(listeners_mu_);
  listeners_.emplace(next_listener_, std::move(wake));
  return next_listener_++;
}

void journal::remove_listener(uint64_t id) {
  std::lock_guard lk(listeners_mu_);
  listeners_.erase(id);
}

caf::behavior journal_actor(caf::event_based_actor* self, journal* j) {
  return {
      [=](drain_atom) {
        if (j->drain())
          self->send(self, drain_atom::value);
      },
  };
}

} // namespace sluice::actors
