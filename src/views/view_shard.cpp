#include "views/view_shard.h"

#include <unordered_map>

namespace sluice::views {

namespace {

// Remembers the changed keys of one batch and the last position that changed each.
class collecting_sink final : public key_sink {
 public:
  void changed(std::string_view key) override {
    auto [it, fresh] = positions_.try_emplace(std::string(key), position);
    if (fresh)
      order_.push_back(&it->first);
    else
      it->second = position;
  }

  uint64_t position = 0;
  std::unordered_map<std::string, uint64_t> positions_;
  std::vector<const std::string*> order_; // first-change order, for stable output
};

} // namespace

void view_shard::apply(const event_batch& batch, std::vector<view_change>& changes) {
  collecting_sink sink;
  for (size_t i = 0; i < batch.size(); ++i) {
    auto r = batch[i];
    if (r.position <= applied_)
      continue; // already reflected (a replayed or repeated batch)
    sink.position = r.position;
    projector_->apply(r, sink);
  }
  applied_ = std::max(applied_, batch.last_position());
  for (auto* key : sink.order_) {
    auto value = std::make_shared<std::string>();
    {
      codec::json_writer w(*value);
      projector_->render(*key, w);
    }
    uint64_t at = sink.positions_[*key];
    entries_.insert_or_assign(*key, entry{value, at});
    changes.push_back({*key, std::move(value), at});
  }
}

const view_shard::entry* view_shard::find(std::string_view key) const {
  auto it = entries_.find(key);
  return it == entries_.end() ? nullptr : &it->second;
}

void view_shard::list(std::string_view after, size_t limit, std::vector<std::pair<std::string, entry>>& out) const {
  for (auto it = entries_.upper_bound(after); it != entries_.end() && limit > 0; ++it, --limit)
    out.emplace_back(it->first, it->second);
}

} // namespace sluice::views
