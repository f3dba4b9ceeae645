// The engine's view calls (engine/engine.h): each finds the instance the
// call names in the view registry and asks its shards.
#include "actors/messages.h"
#include "actors/runtime.h"
#include "base/logger.h"
#include "views/projector.h"

namespace sluice::actors {

namespace {

constexpr logger k_log("views");

} // namespace

bool runtime::read_view(sluice::engine::view_ref view, std::string_view key, uint64_t min_position,
                        std::chrono::milliseconds timeout,
                        std::move_only_function<void(sluice::engine::view_read)> done) {
  bool building = false;
  auto inst = views_->find(view, &building);
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
  auto inst = views_->find(view, &building);
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
  auto inst = views_->find(view, &building);
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
  auto inst = views_->find(view, &building);
  if (!inst)
    return sluice::engine::view_state::unknown;
  return building ? sluice::engine::view_state::building : sluice::engine::view_state::serving;
}

bool runtime::view_errors(std::string_view view, std::string_view after, size_t limit,
                          std::move_only_function<void(sluice::engine::view_errors_page)> done) {
  bool building = false;
  auto inst = views_->find(view, &building);
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
  auto inst = views_->find(view, &building);
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
  auto inst = views_->find(view, &building);
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

std::vector<sluice::engine::view_status> runtime::view_statuses() const { return views_->statuses(); }

sluice::engine::rebuild_status runtime::rebuild_view(std::string_view view, uint32_t& version) {
  return views_->rebuild(view, version);
}

shard_round_ptr runtime::ask_shards(bool restore) {
  auto r = std::make_shared<shard_round>();
  r->limit = log_->last_position();
  auto shards = views_->serving_shards();
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

view_hooks runtime::maintenance_hooks() {
  view_hooks h;
  h.hold = [this](uint64_t position) { return views_->hold(position); };
  h.building = [this] { return views_->building(); };
  h.checkpoint_shards = [this] { return ask_shards(false)->least.load(); };
  return h;
}

} // namespace sluice::actors
