#include "views/view_shard.h"

#include "codec/binary.h"

#include <algorithm>

namespace sluice::views {

// Stamps each changed key with its position and reports it once per batch.
class view_shard::stamping_sink final : public key_sink {
 public:
  stamping_sink(view_shard& shard, std::vector<view_change>& changes, size_t first)
      : shard_(shard), changes_(changes), first_(first) {}

  void changed(std::string_view key) override {
    auto it = shard_.keys_.find(key);
    if (it == shard_.keys_.end()) {
      it = shard_.keys_.emplace(std::string(key), key_state{}).first;
      shard_.fresh_.push_back(&*it);
    }
    // Positions only grow: a key not yet changed by this batch is older
    // than its first event.
    if (it->second.changed_at < first_position) {
      changes_.push_back({it->first, 0});
      touched_.push_back(&it->second);
    }
    it->second.changed_at = position;
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
  stamping_sink sink(*this, changes, changes.size());
  for (size_t i = 0; i < batch.size(); ++i) {
    auto r = batch[i];
    if (r.position <= applied_)
      continue; // already reflected (a replayed or repeated batch)
    if (sink.first_position == 0)
      sink.first_position = r.position;
    sink.position = r.position;
    projector_->apply(r, sink);
  }
  applied_ = std::max(applied_, batch.last_position());
  sink.finish();
}

std::shared_ptr<const std::string> view_shard::render(std::string_view key) const {
  auto value = std::make_shared<std::string>();
  codec::json_writer w(*value);
  projector_->render(key, w);
  return value;
}

std::optional<view_shard::entry> view_shard::find(std::string_view key) const {
  auto it = keys_.find(key);
  if (it == keys_.end())
    return std::nullopt;
  return entry{render(it->first), it->second.changed_at};
}

void view_shard::sort_keys() const {
  if (fresh_.empty())
    return;
  auto less = [](const key_map::value_type* a, const key_map::value_type* b) { return a->first < b->first; };
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
                             [](std::string_view a, const key_map::value_type* k) { return a < k->first; });
  for (; it != sorted_.end() && limit > 0; ++it, --limit)
    out.emplace_back((*it)->first, entry{render((*it)->first), (*it)->second.changed_at});
}

void view_shard::save(std::string& out) const {
  codec::binary_writer w(out);
  w.uint(keys_.size());
  for (auto& [key, st] : keys_) {
    w.string(key);
    w.uint(st.changed_at);
  }
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
  std::vector<const key_map::value_type*> order;
  order.reserve(n);
  for (uint64_t i = 0; i < n && r.ok(); ++i) {
    auto key = r.string();
    uint64_t at = r.uint();
    if (!r.ok() || at > position)
      return false;
    auto [it, added] = keys.emplace(std::string(key), key_state{at});
    if (!added)
      return false;
    order.push_back(&*it);
  }
  auto model = r.string();
  if (!r.ok() || !r.at_end() || !fresh->load(model))
    return false;
  projector_ = std::move(fresh);
  keys_ = std::move(keys); // nodes keep their addresses when the map moves
  sorted_.clear();
  fresh_ = std::move(order);
  applied_ = position;
  return true;
}

} // namespace sluice::views
