#include "engine/aggregate_index.h"

#include <algorithm>
#include <cstdlib>
#include <utility>

namespace sluice::engine {

void aggregate_index::insert(shard& s, std::string_view id, uint64_t position) {
  auto it = s.map.find(id);
  if (it == s.map.end())
    it = s.map.emplace(std::string(id), std::vector<uint64_t>{}).first;
  it->second.push_back(position);
}

void aggregate_index::add(std::string_view id, uint64_t position) {
  auto& s = shard_of(id);
  std::lock_guard lk(s.mu);
  insert(s, id, position);
}

void aggregate_index::add(std::span<const std::pair<std::string_view, uint64_t>> entries) {
  // Counting sort by shard (stable, so each id keeps its ascending
  // positions), then each shard's lock once.
  thread_local std::vector<uint8_t> shard_of_entry;
  thread_local std::vector<uint32_t> order;
  std::array<uint32_t, k_shards + 1> start{};
  shard_of_entry.resize(entries.size());
  for (size_t i = 0; i < entries.size(); ++i) {
    shard_of_entry[i] = static_cast<uint8_t>(string_hash{}(entries[i].first) % k_shards);
    ++start[shard_of_entry[i] + 1];
  }
  for (size_t s = 0; s < k_shards; ++s)
    start[s + 1] += start[s];
  order.resize(entries.size());
  auto next = start;
  for (size_t i = 0; i < entries.size(); ++i)
    order[next[shard_of_entry[i]]++] = static_cast<uint32_t>(i);
  for (size_t s = 0; s < k_shards; ++s) {
    if (start[s] == start[s + 1])
      continue;
    std::lock_guard lk(shards_[s].mu);
    for (uint32_t k = start[s]; k < start[s + 1]; ++k)
      insert(shards_[s], entries[order[k]].first, entries[order[k]].second);
  }
}

uint64_t aggregate_index::position(std::string_view id, uint64_t version) const {
  auto& s = shard_of(id);
  std::lock_guard lk(s.mu);
  auto it = s.map.find(id);
  if (it == s.map.end() || version == 0 || version > it->second.size())
    return 0;
  return it->second[version - 1];
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

void history_index::add(std::span<const indexed_event> events) {
  thread_local std::vector<std::pair<std::string_view, uint64_t>> of_type;
  for (size_t t = 0; t < types_.size(); ++t) {
    of_type.clear();
    for (auto& e : events)
      if (e.type == types_[t])
        of_type.emplace_back(e.id, e.position);
    if (!of_type.empty())
      indexes_[t]->add(of_type);
  }
}

const aggregate_index& history_index::of(const domain::aggregate_type* type) const {
  for (size_t i = 0; i < types_.size(); ++i)
    if (types_[i] == type)
      return *indexes_[i];
  std::abort();  // every type comes from the registry the index was made for
}

} // namespace sluice::engine
