#include "actors/projection_actor.h"

#include "base/logger.h"

#include <fmt/format.h>

namespace sluice::actors {

namespace {

constexpr logger k_log("views");
constexpr size_t k_scratch_kept = 4096;

std::string checkpoint_name(const domain::view_definition& v) { return fmt::format("view.{}", v.name); }

void answer_read(projection_state& st, read_request& r) {
  engine::view_read res;
  res.position = st.shard->applied();
  if (auto e = st.shard->find(r.key)) {
    res.status = engine::read_status::found;
    res.changed_at = e->changed_at;
    res.value = e->value;
  }
  r.done(std::move(res));
}

} // namespace

void projection_state::apply(const views::event_batch& b) {
  changes.clear();
  shard->apply(b, changes);
  cfg.applied->store(shard->applied(), std::memory_order_relaxed);
  if (cfg.checkpoints && cfg.checkpoint_every > 0 &&
      shard->applied() >=
          checkpointed + std::max<uint64_t>(cfg.checkpoint_every, cfg.checkpoint_per_key * shard->size()) &&
      !cfg.checkpoints->busy(checkpoint_name(*cfg.view), cfg.shard))
    checkpoint();
  if (!key_feeds.empty() || !all_feeds.empty())
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
  if (!cfg.checkpoints || fingerprint == 0)
    return 0;
  log::checkpoint c{
      checkpoint_name(*cfg.view), cfg.view->version, cfg.shard, cfg.shards, fingerprint, shard->applied(), {}};
  shard->save(c.body);
  checkpointed = c.position;
  cfg.checkpoints->write(std::move(c));
  return checkpointed;
}

void projection_state::read(read_ptr r, caf::stateful_actor<projection_state>* self) {
  if (r->min_position <= shard->applied()) {
    answer_read(*this, *r);
    return;
  }
  auto id = next_wait_id++;
  auto timeout = r->timeout;
  auto position = r->min_position; // read before r is moved from
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

// Hands each change to the feeds of its key and of "*"; drops closed feeds.
// A value is rendered only for a key somebody subscribed to, once for all.
void projection_state::notify() {
  auto live = [](std::vector<std::shared_ptr<engine::view_feed>>& feeds) {
    std::erase_if(feeds, [](auto& f) { return f->closed(); });
  };
  live(all_feeds);
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

caf::behavior projection_actor(caf::stateful_actor<projection_state>* self, views::view_shard* shard,
                               projection_config cfg) {
  self->state.shard.reset(shard);
  self->state.cfg = cfg;
  return {
      [self](restore_atom, const shard_round_ptr& r) {
        auto at = self->state.restore(r->limit);
        if (at > 0)
          r->loaded.fetch_add(1);
        r->finish_one(at);
      },
      [self](checkpoint_atom, const shard_round_ptr& r) { r->finish_one(self->state.checkpoint()); },
      [self](apply_atom, const batch_ptr& b) { self->state.apply(*b); },
      [self](read_atom, read_ptr r) { self->state.read(std::move(r), self); },
      [self](timeout_atom, uint64_t id) { self->state.timeout(id); },
      [self](list_atom, const list_ptr& l) { self->state.list(l); },
      [self](subscribe_atom, const std::string& key, const std::shared_ptr<engine::view_feed>& feed) {
        self->state.subscribe(key, feed);
      },
  };
}

} // namespace sluice::actors
