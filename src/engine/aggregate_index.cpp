#include "engine/aggregate_index.h"

#include <algorithm>
#include <cstdlib>
#include <utility>

namespace sluice::engine {

aggregate_index::entry& aggregate_index::find_or_add(shard& s, std::string_view id) {
  auto it = s.map.find(id);
  if (it == s.map.end()) {
    it = s.map.emplace(std::string(id), entry{}).first;
    size_.fetch_add(1, std::memory_order_relaxed);
  }
  return it->second;
}

void aggregate_index::insert(shard& s, std::string_view id, uint64_t position) {
  find_or_add(s, id).positions.push_back(position);
}

void aggregate_index::set_snapshot(std::string_view id, snapshot_entry snap) {
  auto& s = shard_of(id);
  std::lock_guard lk(s.mu);
  auto& e = find_or_add(s, id);
  if (snap.version >= e.snapshot.version)
    e.snapshot = snap;
}

void aggregate_index::drop_snapshot(std::string_view id, uint64_t ref) {
  auto& s = shard_of(id);
  std::lock_guard lk(s.mu);
  auto it = s.map.find(id);
  if (it != s.map.end() && it->second.snapshot.ref == ref)
    it->second.snapshot = {};
}

aggregate_index::history aggregate_index::history_of(std::string_view id) const {
  auto& s = shard_of(id);
  std::lock_guard lk(s.mu);
  auto it = s.map.find(id);
  if (it == s.map.end())
    return {};
  return {it->second.snapshot, it->second.positions};
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
  if (it == s.map.end() || version == 0 || version > it->second.positions.size())
    return 0;
  return it->second.positions[version - 1];
}

std::vector<uint64_t> aggregate_index::positions(std::string_view id, size_t skip, size_t limit, size_t& total) const {
  auto& s = shard_of(id);
  std::lock_guard lk(s.mu);
  auto it = s.map.find(id);
  if (it == s.map.end()) {
    total = 0;
    return {};
  }
  auto& all = it->second.positions;
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

size_t history_index::size() const {
  size_t n = 0;
  for (auto& i : indexes_)
    n += i->size();
  return n;
}

const aggregate_index& history_index::of(const domain::aggregate_type* type) const {
  for (size_t i = 0; i < types_.size(); ++i)
    if (types_[i] == type)
      return *indexes_[i];
  std::abort(); // every type comes from the registry the index was made for
}

} // namespace sluice::engine
