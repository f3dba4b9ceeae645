#include "actors/projection_actor.h"

#include "base/logger.h"

#include <fmt/format.h>

namespace sluice::actors {

namespace {

constexpr logger k_log("views");
constexpr size_t k_scratch_kept = 4096;
constexpr auto k_floor_wait = std::chrono::milliseconds(5000);

std::string checkpoint_name(const domain::view_definition& v) { return fmt::format("view.{}", v.name); }

void answer_read(projection_state& st, read_request& r) {
  engine::view_read res;
  res.position = st.shard->applied();
  if (auto e = st.shard->find(r.key)) {
    res.status = engine::read_status::found;
    res.changed_at = e->changed_at;
    res.value = e->value;
    res.parked = e->parked;
  }
  r.done(std::move(res));
}

} // namespace

void projection_state::live(const views::event_batch& b) {
  if (successor)
    return;
  if (building) {
    if (b.empty())
      return;
    if (b.first_position() > shard->applied() + 1) {
      live_seen = std::max(live_seen, b.last_position()); // the builder reads it from the log
      return;
    }
    building = false; // contiguous: every later batch of the journal is too
    apply(b);
    cfg.live->fetch_add(1);
    return;
  }
  apply(b);
}

void projection_state::built(const views::event_batch& b) {
  if (building)
    apply(b);
  cfg.build_in_flight->fetch_sub(1);
  go_live_if_caught_up();
}

// Live once every batch the journal sent (or will send) starts right after
// what the shard has applied.
void projection_state::go_live_if_caught_up() {
  if (!building || live_from == UINT64_MAX || shard->applied() < std::max(live_from, live_seen))
    return;
  building = false;
  cfg.live->fetch_add(1);
}

void projection_state::apply(const views::event_batch& b) {
  changes.clear();
  parks.clear();
  shard->apply(b, changes, parks);
  cfg.applied->store(shard->applied(), std::memory_order_relaxed);
  if (!parks.empty()) {
    cfg.parked->store(shard->parked_events(), std::memory_order_relaxed);
    for (auto& p : parks)
      k_log.warn("view {} parks key '{}' from position {} on: {}", cfg.view->name, p.key, p.position, p.error);
  } else if (shard->parked_keys() > 0)
    cfg.parked->store(shard->parked_events(), std::memory_order_relaxed);
  if (!building && (!adopting.empty() || !lists_waiting.empty())) {
    auto waiting_adoptions = std::move(adopting);
    adopting.clear();
    for (auto& h : waiting_adoptions)
      adopt(h);
    auto waiting_lists = std::move(lists_waiting);
    lists_waiting.clear();
    for (auto& l : waiting_lists)
      list(l);
  }
  if (cfg.checkpoints && cfg.checkpoint_every > 0 && !building &&
      shard->applied() >=
          checkpointed + std::max<uint64_t>(cfg.checkpoint_every, cfg.checkpoint_per_key * shard->size()) &&
      !cfg.checkpoints->busy(checkpoint_name(*cfg.view), cfg.shard))
    checkpoint();
  if ((!key_feeds.empty() || !all_feeds.empty()) && (!changes.empty() || !parks.empty()))
    notify();
  if (changes.capacity() > k_scratch_kept) // a burst's scratch is not kept for good
    changes = {};
  while (!waiting.empty() && waiting.begin()->first <= shard->applied()) {
    auto r = std::move(waiting.begin()->second.second);
    waiting.erase(waiting.begin());
    answer_read(*this, *r);
  }
}

uint64_t projection_state::restore(uint64_t limit) {
  if (!cfg.checkpoints || shard->checkpoint_fingerprint() == 0)
    return 0;
  bool found = false;
  auto c = log::read_checkpoint(cfg.checkpoints->dir(), checkpoint_name(*cfg.view), cfg.view->version, cfg.shard,
                                cfg.shards, found);
  if (!found)
    return 0;
  std::string why;
  if (!c)
    why = c.error();
  else if (c->fingerprint != shard->checkpoint_fingerprint())
    why = "the view's layout changed (fingerprint)";
  else if (c->position > limit)
    why = fmt::format("it is at position {}, past the log's end {}", c->position, limit);
  else if (!shard->load(c->body, c->position, cfg.view->make(cfg.shard, cfg.shards)))
    why = "its body does not decode";
  if (!why.empty()) {
    cfg.rejected->fetch_add(1, std::memory_order_relaxed);
    k_log.warn("checkpoint of view {} shard {} not used: {}; the shard is rebuilt from the log", cfg.view->name,
               cfg.shard, why);
    return 0;
  }
  checkpointed = c->position;
  cfg.applied->store(c->position, std::memory_order_relaxed);
  return c->position;
}

uint64_t projection_state::checkpoint() {
  auto fingerprint = shard->checkpoint_fingerprint();
  // With keys parked, none: the next start replays their events from the
  // log (the retry at start), which a checkpoint past them would skip.
  if (!cfg.checkpoints || fingerprint == 0 || shard->parked_keys() > 0)
    return 0;
  log::checkpoint c{
      checkpoint_name(*cfg.view), cfg.view->version, cfg.shard, cfg.shards, fingerprint, shard->applied(), {}};
  shard->save(c.body);
  checkpointed = c.position;
  cfg.checkpoints->write(std::move(c));
  return checkpointed;
}

void projection_state::read(read_ptr r, caf::stateful_actor<projection_state>* self) {
  if (successor) {
    r->floor = std::max(r->floor, successor_floor);
    caf::anon_send(caf::actor_cast<caf::actor>(successor), read_atom::value, std::move(r));
    return;
  }
  auto position = std::max(r->min_position, r->floor); // read before r is moved from
  if (position <= shard->applied()) {
    answer_read(*this, *r);
    return;
  }
  auto id = next_wait_id++;
  // The floor is reached within a batch or two: it is not the reader's wait.
  auto timeout = r->min_position >= r->floor ? r->timeout : std::max(r->timeout, k_floor_wait);
  waiting.emplace(position, std::make_pair(id, std::move(r)));
  self->delayed_send(self, timeout, timeout_atom::value, id);
}

void projection_state::timeout(uint64_t id) {
  for (auto it = waiting.begin(); it != waiting.end(); ++it)
    if (it->second.first == id) {
      engine::view_read res;
      res.status = engine::read_status::timeout;
      res.position = shard->applied();
      auto r = std::move(it->second.second);
      waiting.erase(it);
      r->done(std::move(res));
      return;
    }
}

void projection_state::list(const list_ptr& l) {
  if (successor) {
    l->floor = std::max(l->floor, successor_floor);
    caf::anon_send(caf::actor_cast<caf::actor>(successor), list_atom::value, l);
    return;
  }
  if (shard->applied() < l->floor) {
    lists_waiting.push_back(l);
    return;
  }
  std::vector<std::pair<std::string, views::view_shard::entry>> mine;
  shard->list(l->after, l->limit + 1, mine);
  std::lock_guard lk(l->mu);
  l->position = std::min(l->position, shard->applied());
  for (auto& [key, e] : mine)
    l->items.push_back({std::move(key), e.changed_at, e.value});
  if (--l->pending > 0)
    return;
  // The last shard merges: every shard gave its first limit+1 keys after `after`.
  std::sort(l->items.begin(), l->items.end(), [](auto& a, auto& b) { return a.key < b.key; });
  engine::view_page page;
  page.position = l->position;
  page.more = l->items.size() > l->limit;
  if (page.more)
    l->items.resize(l->limit);
  page.items = std::move(l->items);
  l->done(std::move(page));
}

void projection_state::subscribe(const std::string& key, const std::shared_ptr<engine::view_feed>& feed) {
  if (successor) {
    caf::anon_send(caf::actor_cast<caf::actor>(successor), subscribe_atom::value, key, feed);
    return;
  }
  auto at = shard->applied();
  if (key == "*") {
    std::vector<std::pair<std::string, views::view_shard::entry>> entries;
    shard->list("", SIZE_MAX, entries);
    for (auto& [k, e] : entries)
      feed->snapshot(std::move(k), e.value, at);
    all_feeds.push_back(feed);
  } else {
    auto e = shard->find(key);
    feed->snapshot(key, e ? e->value : nullptr, at);
    key_feeds[key].push_back(feed);
  }
  feed->registered(at);
}

// The version that replaced this one serves from now on: subscribers move
// to it, and so does every request that still comes here. The model is
// freed; what this shard had applied is the floor of the new one's answers.
void projection_state::retire(const caf::actor& next, uint64_t at) {
  auto h = std::make_shared<handover>();
  h->floor = at;
  for (auto& f : all_feeds)
    if (!f->closed())
      h->feeds.emplace_back("*", f);
  for (auto& [key, feeds] : key_feeds)
    for (auto& f : feeds)
      if (!f->closed())
        h->feeds.emplace_back(key, f);
  all_feeds.clear();
  key_feeds.clear();
  caf::anon_send(next, adopt_atom::value, h);
  successor = caf::actor_cast<caf::actor_addr>(next); // weak: the new shard must be free to stop
  successor_floor = at;
  for (auto& [position, waiting_read] : waiting)
    read(std::move(waiting_read.second), nullptr);
  waiting.clear();
  for (auto& l : lists_waiting)
    list(l);
  lists_waiting.clear();
  shard.reset();
}

// Subscribers of the replaced version: a rebuilt snapshot of their keys
// once this shard is at least where the old one was, then its changes.
void projection_state::adopt(const handover_ptr& h) {
  floor = std::max(floor, h->floor);
  if (building || shard->applied() < h->floor) {
    adopting.push_back(h);
    return;
  }
  auto at = shard->applied();
  for (auto& [key, feed] : h->feeds) {
    if (key == "*") {
      std::vector<std::pair<std::string, views::view_shard::entry>> entries;
      shard->list("", SIZE_MAX, entries);
      for (auto& [k, e] : entries)
        feed->rebuilt(k, e.value, at);
      all_feeds.push_back(feed);
    } else {
      auto e = shard->find(key);
      feed->rebuilt(key, e ? e->value : nullptr, at);
      key_feeds[key].push_back(feed);
    }
  }
}

// Hands each change to the feeds of its key and of "*"; drops closed feeds.
// A value is rendered only for a key somebody subscribed to, once for all.
void projection_state::notify() {
  auto live = [](std::vector<std::shared_ptr<engine::view_feed>>& feeds) {
    std::erase_if(feeds, [](auto& f) { return f->closed(); });
  };
  live(all_feeds);
  for (auto& p : parks) {
    std::string key(p.key);
    for (auto& f : all_feeds)
      f->parked(key, p.position, p.error);
    if (auto it = key_feeds.find(p.key); it != key_feeds.end())
      for (auto& f : it->second)
        f->parked(key, p.position, p.error);
  }
  for (auto& c : changes) {
    auto it = key_feeds.find(c.key);
    if (all_feeds.empty() && it == key_feeds.end())
      continue;
    auto value = shard->render(c.key);
    for (auto& f : all_feeds)
      f->change(std::string(c.key), value, c.position);
    if (it != key_feeds.end()) {
      live(it->second);
      for (auto& f : it->second)
        f->change(std::string(c.key), value, c.position);
      if (it->second.empty())
        key_feeds.erase(it);
    }
  }
}

void projection_state::errors(const errors_ptr& q) {
  if (successor) {
    caf::anon_send(caf::actor_cast<caf::actor>(successor), errors_atom::value, q);
    return;
  }
  std::vector<views::view_shard::parked_item> mine;
  shard->parked_list(q->after, q->limit + 1, mine);
  std::lock_guard lk(q->mu);
  for (auto& p : mine)
    q->items.push_back(
        {p.key, p.info.position, p.info.event_type, p.info.error, p.info.first_failed_us, p.info.attempts, p.events});
  if (--q->pending > 0)
    return;
  std::sort(q->items.begin(), q->items.end(), [](auto& a, auto& b) { return a.key < b.key; });
  engine::view_errors_page page;
  page.more = q->items.size() > q->limit;
  if (page.more)
    q->items.resize(q->limit);
  page.items = std::move(q->items);
  q->done(std::move(page));
}

// A replay or a skip asked for through the admin API.
void projection_state::act(const error_action_ptr& a, bool skip) {
  if (successor) {
    auto next = caf::actor_cast<caf::actor>(successor);
    if (skip)
      caf::anon_send(next, skip_atom::value, a);
    else
      caf::anon_send(next, replay_atom::value, a);
    return;
  }
  changes.clear();
  parks.clear();
  if (skip) {
    a->skipped += shard->skip(a->key);
  } else {
    auto [replayed, still] = shard->replay(a->key, changes, parks);
    a->replayed += replayed;
    a->still += still;
  }
  cfg.parked->store(shard->parked_events(), std::memory_order_relaxed);
  if ((!key_feeds.empty() || !all_feeds.empty()) && (!changes.empty() || !parks.empty()))
    notify();
  a->finish_one();
}

caf::behavior projection_actor(caf::stateful_actor<projection_state>* self, views::view_shard* shard,
                               const projection_config& cfg) {
  self->state.shard.reset(shard);
  self->state.cfg = cfg;
  self->state.building = cfg.live != nullptr;
  self->state.shard->set_errors(cfg.errors);
  return {
      [self](restore_atom, const shard_round_ptr& r) {
        auto at = self->state.restore(r->limit);
        if (at > 0)
          r->loaded.fetch_add(1);
        r->finish_one(at);
      },
      [self](checkpoint_atom, const shard_round_ptr& r) {
        if (self->state.successor)
          caf::anon_send(caf::actor_cast<caf::actor>(self->state.successor), checkpoint_atom::value, r);
        else
          r->finish_one(self->state.checkpoint());
      },
      [self](apply_atom, const batch_ptr& b) { self->state.live(*b); },
      [self](build_atom, const batch_ptr& b) { self->state.built(*b); },
      [self](livefrom_atom, uint64_t at) {
        self->state.live_from = at;
        self->state.go_live_if_caught_up();
      },
      [self](serve_atom, checkpoints_ref c) { self->state.cfg.checkpoints = c.writer; },
      [self](retire_atom, const caf::actor& next, uint64_t at) { self->state.retire(next, at); },
      [self](adopt_atom, const handover_ptr& h) { self->state.adopt(h); },
      [self](errors_atom, const errors_ptr& q) { self->state.errors(q); },
      [self](replay_atom, const error_action_ptr& a) { self->state.act(a, false); },
      [self](skip_atom, const error_action_ptr& a) { self->state.act(a, true); },
      [self](read_atom, read_ptr r) { self->state.read(std::move(r), self); },
      [self](timeout_atom, uint64_t id) { self->state.timeout(id); },
      [self](list_atom, const list_ptr& l) { self->state.list(l); },
      [self](subscribe_atom, const std::string& key, const std::shared_ptr<engine::view_feed>& feed) {
        self->state.subscribe(key, feed);
      },
  };
}

} // namespace sluice::actors
