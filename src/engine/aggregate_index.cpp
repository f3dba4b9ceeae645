#include "engine/aggregate_index.h"

#include <algorithm>

namespace sluice::engine {

void aggregate_index::add(std::string_view id, uint64_t position) {
  auto& s = shard_of(id);
  std::lock_guard lk(s.mu);
  auto it = s.map.find(id);
  if (it == s.map.end())
    it = s.map.emplace(std::string(id), std::vector<uint64_t>{}).first;
  it->second.push_back(position);
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

} // namespace sluice::engine
