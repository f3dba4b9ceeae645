#include "views/view_shard.h"

#include "base/clock.h"
#include "codec/binary.h"

#include <algorithm>

namespace sluice::views {

namespace {

// The keys of `parked` to replay (all, or only `key` if not empty), in
// position order of their first parked event. A template: the map's
// sequences are a private type of view_shard.
template <class ParkedMap>
std::vector<std::string> keys_to_replay(const ParkedMap& parked, std::string_view key) {
  std::vector<std::string> keys;
  for (auto& [k, seq] : parked)
    if (key.empty() || k == key)
      keys.push_back(k);
  std::sort(keys.begin(), keys.end(), [&](auto& a, auto& b) {
    return parked.find(a)->second.info.position < parked.find(b)->second.info.position;
  });
  return keys;
}

} // namespace

// Stamps each changed key with its position and reports it once per batch.
class view_shard::stamping_sink {
 public:
  stamping_sink(view_shard& shard, std::vector<view_change>& changes, size_t first)
      : shard_(shard), changes_(changes), first_(first) {}

  void changed(std::string_view key) {
    auto [n, made] = shard_.keys_.try_emplace_node(key);
    if (made)
      shard_.fresh_.push_back(&n);
    // Positions only grow: a key not yet changed by this batch is older
    // than its first event.
    if (n.value.changed_at < first_position) {
      changes_.push_back({n.key, 0});
      touched_.push_back(&n.value);
    }
    n.value.changed_at = position;
  }

  // Positions are final once the whole batch is applied.
  void finish() {
    for (size_t i = 0; i < touched_.size(); ++i)
      changes_[first_ + i].position = touched_[i]->changed_at;
  }

  uint64_t first_position = 0; ///< of the batch's first event applied here
  uint64_t position = 0;

 private:
  view_shard& shard_;
  std::vector<view_change>& changes_;
  size_t first_;
  std::vector<const key_state*> touched_; // parallel to changes_ from first_ on
};

void view_shard::apply(const event_batch& batch, std::vector<view_change>& changes) {
  std::vector<view_park> parks;
  apply(batch, changes, parks);
}

void view_shard::apply(const event_batch& batch, std::vector<view_change>& changes, std::vector<view_park>& parks) {
  stamping_sink sink(*this, changes, changes.size());
  for (size_t i = 0; i < batch.size(); ++i) {
    auto r = batch[i];
    if (r.position <= applied_)
      continue; // already reflected (a replayed or repeated batch)
    auto key = projector_->route(r);
    if (key.empty())
      continue;
    if (sink.first_position == 0)
      sink.first_position = r.position;
    sink.position = r.position;
    apply_one(r, key, sink, parks);
  }
  applied_ = std::max(applied_, batch.last_position());
  sink.finish();
}

std::expected<bool, std::string> view_shard::try_apply(const log::record& r, std::string_view key) {
  if (errors_.drill && key.starts_with(errors_.drill_prefix))
    return std::unexpected(std::string("drill: --drill-fail-view fails the events of this key"));
  return projector_->apply(r, key);
}

bool view_shard::apply_one(const log::record& r, std::string_view key, stamping_sink& sink,
                           std::vector<view_park>& parks) {
  if (!parked_.empty())
    if (auto p = parked_.find(key); p != parked_.end()) { // later events of a parked key wait behind it
      p->second.events->add(r);
      ++parked_events_;
      return false;
    }
  // Keys without errors pay one relaxed load here, not a lookup.
  bool recorded = errors_.log && !errors_.log->empty();
  if (recorded) {
    if (errors_.log->skipped(key, r.position))
      return true; // skipped by the admin API: dropped for good
    if (errors_.keep_parked)
      if (auto known = errors_.log->known(key); known && known->position <= r.position) {
        park(r, key, known->error, parks);
        return false;
      }
  }
  auto res = try_apply(r, key);
  if (!res) {
    park(r, key, std::move(res.error()), parks);
    return false;
  }
  if (*res)
    sink.changed(key);
  if (recorded && !errors_.keep_parked && errors_.log->known(key))
    errors_.log->resolve(key); // parked by an earlier run; applies now (the retry at start)
  return true;
}

void view_shard::park(const log::record& r, std::string_view key, std::string error, std::vector<view_park>& parks) {
  parked_seq seq;
  seq.events = std::make_unique<event_batch>();
  seq.events->add(r);
  auto known = errors_.log ? errors_.log->known(key) : std::nullopt;
  if (known && known->position == r.position) {
    seq.info = *known; // the same sequence, failing again: an attempt more
    if (!errors_.keep_parked)
      ++seq.info.attempts;
    seq.info.error = std::move(error);
  } else {
    seq.info.position = r.position;
    seq.info.event_type = r.type;
    seq.info.error = std::move(error);
    seq.info.first_failed_us = now_us();
    seq.info.attempts = 1;
  }
  if (errors_.log && (!known || known->attempts != seq.info.attempts || known->position != seq.info.position))
    errors_.log->park(key, seq.info);
  auto it = parked_.emplace(std::string(key), std::move(seq)).first;
  ++parked_events_;
  parks.push_back({it->first, r.position, it->second.info.error});
}

void view_shard::parked_list(std::string_view after, size_t limit, std::vector<parked_item>& out) const {
  for (auto it = parked_.upper_bound(after); it != parked_.end() && limit > 0; ++it, --limit)
    out.push_back({it->first, it->second.info, it->second.events->size()});
}

std::pair<size_t, size_t> view_shard::replay(std::string_view key, std::vector<view_change>& changes,
                                             std::vector<view_park>& parks) {
  auto keys = keys_to_replay(parked_, key);
  size_t replayed = 0, still = 0;
  for (auto& k : keys) {
    auto node = parked_.extract(k);
    auto& seq = node.mapped();
    parked_events_ -= seq.events->size();
    stamping_sink sink(*this, changes, changes.size());
    size_t i = 0;
    std::string error;
    for (; i < seq.events->size(); ++i) {
      auto r = (*seq.events)[i];
      auto res = try_apply(r, k);
      if (!res) {
        error = std::move(res.error());
        break;
      }
      if (sink.first_position == 0)
        sink.first_position = r.position;
      sink.position = r.position;
      if (*res)
        sink.changed(k);
    }
    sink.finish();
    if (i == seq.events->size()) {
      ++replayed;
      if (errors_.log)
        errors_.log->resolve(k);
      continue;
    }
    // Failed again at event i: the sequence now starts there.
    ++still;
    auto rest = std::make_unique<event_batch>();
    for (size_t j = i; j < seq.events->size(); ++j)
      rest->add((*seq.events)[j]);
    auto first = (*rest)[0];
    bool moved = first.position != seq.info.position; // part of it applied: a sequence of its own now
    if (moved) {
      seq.info.position = first.position;
      seq.info.event_type = first.type;
    }
    seq.info.error = std::move(error);
    ++seq.info.attempts;
    if (errors_.log)
      errors_.log->park(k, seq.info);
    seq.events = std::move(rest);
    parked_events_ += seq.events->size();
    auto it = parked_.insert(std::move(node)).position;
    if (moved)
      parks.push_back({it->first, it->second.info.position, it->second.info.error});
  }
  return {replayed, still};
}

uint64_t view_shard::skip(std::string_view key) {
  auto it = parked_.find(key);
  if (it == parked_.end())
    return 0;
  uint64_t n = it->second.events->size();
  if (errors_.log)
    errors_.log->skip(key, it->second.events->first_position(), it->second.events->last_position());
  parked_events_ -= n;
  parked_.erase(it);
  return n;
}

std::shared_ptr<const std::string> view_shard::render(std::string_view key) const {
  auto value = std::make_shared<std::string>();
  codec::json_writer w(*value);
  projector_->render(key, w);
  return value;
}

std::optional<view_shard::entry> view_shard::find(std::string_view key) const {
  auto p = parked_.find(key);
  uint64_t parked = p == parked_.end() ? 0 : p->second.events->size();
  auto* n = keys_.find_node(key);
  if (n == nullptr) {
    if (parked > 0) // its first event was parked: a key without a value yet
      return entry{nullptr, 0, parked};
    return std::nullopt;
  }
  return entry{render(n->key), n->value.changed_at, parked};
}

void view_shard::sort_keys() const {
  if (fresh_.empty())
    return;
  auto less = [](const key_map::node* a, const key_map::node* b) { return a->key.view() < b->key.view(); };
  std::sort(fresh_.begin(), fresh_.end(), less);
  size_t old = sorted_.size();
  sorted_.insert(sorted_.end(), fresh_.begin(), fresh_.end());
  std::inplace_merge(sorted_.begin(), sorted_.begin() + static_cast<ptrdiff_t>(old), sorted_.end(), less);
  fresh_.clear();
  fresh_.shrink_to_fit();
}

void view_shard::list(std::string_view after, size_t limit, std::vector<std::pair<std::string, entry>>& out) const {
  sort_keys();
  auto it = std::upper_bound(sorted_.begin(), sorted_.end(), after,
                             [](std::string_view a, const key_map::node* k) { return a < k->key.view(); });
  for (; it != sorted_.end() && limit > 0; ++it, --limit)
    out.emplace_back((*it)->key.view(), entry{render((*it)->key), (*it)->value.changed_at, 0});
}

void view_shard::save(std::string& out) const {
  codec::binary_writer w(out);
  w.uint(keys_.size());
  keys_.for_each([&](std::string_view key, const key_state& st) {
    w.string(key);
    w.uint(st.changed_at);
  });
  std::string model;
  projector_->save(model);
  w.string(model);
}

bool view_shard::load(std::string_view in, uint64_t position, std::unique_ptr<projector> fresh) {
  codec::binary_reader r(in);
  key_map keys;
  uint64_t n = r.uint();
  if (!r.ok() || n > in.size()) // every key takes at least a byte
    return false;
  keys.reserve(n);
  std::vector<const key_map::node*> order;
  order.reserve(n);
  for (uint64_t i = 0; i < n && r.ok(); ++i) {
    auto key = r.string();
    uint64_t at = r.uint();
    if (!r.ok() || at > position)
      return false;
    auto [k, added] = keys.try_emplace_node(key);
    if (!added)
      return false;
    k.value.changed_at = at;
    order.push_back(&k);
  }
  auto model = r.string();
  if (!r.ok() || !r.at_end() || !fresh->load(model))
    return false;
  projector_ = std::move(fresh);
  keys_ = std::move(keys); // entries keep their addresses when the map moves
  sorted_.clear();
  fresh_ = std::move(order);
  applied_ = position;
  return true;
}

} // namespace sluice::views
