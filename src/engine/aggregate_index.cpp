#include "engine/aggregate_index.h"

#include <algorithm>
#include <cstdlib>
#include <utility>

namespace sluice::engine {

void aggregate_index::add(std::string_view id, uint64_t position) {
  auto& s = shard_of(id);
  std::lock_guard lk(s.mu);
  auto it = s.map.find(id);
  if (it == s.map.end())
    it = s.map.emplace(std::string(id), std::vector<uint64_t>{}).first;
  it->second.push_back(position);
}

void aggregate_index::add(std::span<const std::pair<std::string_view, uint64_t>> entries) {
  thread_local std::vector<uint8_t> shard_ids;
  shard_ids.resize(entries.size());
  uint32_t used = 0;  // bit per shard
  for (size_t i = 0; i < entries.size(); ++i) {
    shard_ids[i] = static_cast<uint8_t>(string_hash{}(entries[i].first) % k_shards);
    used |= 1u << shard_ids[i];
  }
  for (size_t s = 0; s < k_shards; ++s) {
    if (!(used & (1u << s)))
      continue;
    std::lock_guard lk(shards_[s].mu);
    auto& map = shards_[s].map;
    for (size_t i = 0; i < entries.size(); ++i) {
      if (shard_ids[i] != s)
        continue;
      auto it = map.find(entries[i].first);
      if (it == map.end())
        it = map.emplace(std::string(entries[i].first), std::vector<uint64_t>{}).first;
      it->second.push_back(entries[i].second);
    }
  }
}

std::vector<uint64_t> aggregate_index::positions(std::string_view id, size_t skip, size_t limit,
                                                 size_t& total) const {
  auto& s = shard_of(id);
  std::lock_guard lk(s.mu);
  auto it = s.map.find(id);
  if (it == s.map.end()) {
    total = 0;
    return {};
  }
  auto& all = it->second;
  total = all.size();
  skip = std::min(skip, all.size());
  size_t n = std::min(limit, all.size() - skip);
  return {all.begin() + static_cast<ptrdiff_t>(skip), all.begin() + static_cast<ptrdiff_t>(skip + n)};
}

history_index::history_index(std::span<const domain::aggregate_type* const> types)
    : types_(types.begin(), types.end()) {
  for (size_t i = 0; i < types_.size(); ++i)
    indexes_.push_back(std::make_unique<aggregate_index>());
}

aggregate_index& history_index::of(const domain::aggregate_type* type) {
  return const_cast<aggregate_index&>(std::as_const(*this).of(type));
}

const aggregate_index& history_index::of(const domain::aggregate_type* type) const {
  for (size_t i = 0; i < types_.size(); ++i)
    if (types_[i] == type)
      return *indexes_[i];
  std::abort();  // every type comes from the registry the index was made for
}

} // namespace sluice::engine
