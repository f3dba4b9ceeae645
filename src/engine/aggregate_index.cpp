#include "engine/aggregate_index.h"

#include "codec/binary.h"
#include "domain/aggregate_type.h"

#include <algorithm>
#include <cstdlib>
#include <utility>

namespace sluice::engine {

aggregate_index::entry& aggregate_index::find_or_add(shard& s, std::string_view id, uint64_t h) {
  auto [e, made] = s.map.try_emplace(id, h);
  if (made)
    size_.fetch_add(1, std::memory_order_relaxed);
  return e;
}

void aggregate_index::insert(shard& s, std::string_view id, uint64_t h, uint64_t position, uint64_t version) {
  auto& e = find_or_add(s, id, h);
  if (e.positions.empty() && version > 0)
    e.dropped = version - 1;
  e.positions.push_back(position);
}

void aggregate_index::set_snapshot(std::string_view id, snapshot_entry snap) {
  uint64_t h = hash(id);
  auto& s = shard_of(h);
  std::lock_guard lk(s.mu);
  auto& e = find_or_add(s, id, h);
  if (snap.version >= e.snapshot.version)
    e.snapshot = snap;
}

void aggregate_index::drop_snapshot(std::string_view id, uint64_t ref) {
  uint64_t h = hash(id);
  auto& s = shard_of(h);
  std::lock_guard lk(s.mu);
  auto* e = s.map.find(id, h);
  if (e != nullptr && e->snapshot.ref == ref)
    e->snapshot = {};
}

aggregate_index::history aggregate_index::history_of(std::string_view id) const {
  uint64_t h = hash(id);
  auto& s = shard_of(h);
  std::lock_guard lk(s.mu);
  auto* e = s.map.find(id, h);
  if (e == nullptr)
    return {};
  return {e->snapshot, {e->positions.begin(), e->positions.end()}, e->dropped};
}

void aggregate_index::add(std::string_view id, uint64_t position, uint64_t version) {
  uint64_t h = hash(id);
  auto& s = shard_of(h);
  std::lock_guard lk(s.mu);
  insert(s, id, h, position, version);
}

void aggregate_index::add(std::span<const indexed> entries) {
  // Counting sort by shard (stable, so each id keeps its ascending
  // positions), then each shard's lock once.
  thread_local std::vector<uint64_t> hashes;
  thread_local std::vector<uint32_t> order;
  std::array<uint32_t, k_shards + 1> start{};
  hashes.resize(entries.size());
  for (size_t i = 0; i < entries.size(); ++i) {
    hashes[i] = hash(entries[i].id);
    ++start[hashes[i] % k_shards + 1];
  }
  for (size_t s = 0; s < k_shards; ++s)
    start[s + 1] += start[s];
  order.resize(entries.size());
  auto next = start;
  for (size_t i = 0; i < entries.size(); ++i)
    order[next[hashes[i] % k_shards]++] = static_cast<uint32_t>(i);
  for (size_t s = 0; s < k_shards; ++s) {
    if (start[s] == start[s + 1])
      continue;
    std::lock_guard lk(shards_[s].mu);
    for (uint32_t k = start[s]; k < start[s + 1]; ++k) {
      auto& e = entries[order[k]];
      insert(shards_[s], e.id, hashes[order[k]], e.position, e.version);
    }
  }
}

uint64_t aggregate_index::position(std::string_view id, uint64_t version) const {
  uint64_t h = hash(id);
  auto& s = shard_of(h);
  std::lock_guard lk(s.mu);
  auto* e = s.map.find(id, h);
  if (e == nullptr || version <= e->dropped || version - e->dropped > e->positions.size())
    return 0;
  return e->positions[version - e->dropped - 1];
}

bool aggregate_index::deleted(std::string_view id, uint64_t version) const {
  uint64_t h = hash(id);
  auto& s = shard_of(h);
  std::lock_guard lk(s.mu);
  auto* e = s.map.find(id, h);
  return e != nullptr && version <= e->dropped;
}

std::vector<uint64_t> aggregate_index::positions(std::string_view id, size_t skip, size_t limit, size_t& total,
                                                 size_t* dropped) const {
  uint64_t h = hash(id);
  auto& s = shard_of(h);
  std::lock_guard lk(s.mu);
  auto* e = s.map.find(id, h);
  if (dropped)
    *dropped = e == nullptr ? 0 : e->dropped;
  if (e == nullptr) {
    total = 0;
    return {};
  }
  auto& all = e->positions;
  total = e->dropped + all.size();
  skip = skip > e->dropped ? skip - e->dropped : 0;
  skip = std::min<size_t>(skip, all.size());
  size_t n = std::min<size_t>(limit, all.size() - skip);
  return {all.begin() + skip, all.begin() + skip + n};
}

// Per shard: the number of entries, then each entry's id, dropped count,
// number of positions and the positions as deltas.
void aggregate_index::save(std::string& out, uint64_t position) const {
  codec::binary_writer w(out);
  std::vector<std::pair<std::string_view, const entry*>> kept;
  for (auto& s : shards_) {
    std::lock_guard lk(s.mu);
    kept.clear();
    s.map.for_each([&](std::string_view id, const entry& e) {
      if (e.dropped > 0 || (!e.positions.empty() && e.positions.front() <= position))
        kept.emplace_back(id, &e);
    });
    w.uint(kept.size());
    for (auto& [id, e] : kept) {
      auto end = std::upper_bound(e->positions.begin(), e->positions.end(), position);
      w.string(id);
      w.uint(e->dropped);
      w.uint(static_cast<uint64_t>(end - e->positions.begin()));
      uint64_t prev = 0;
      for (auto p = e->positions.begin(); p != end; ++p) {
        w.uint(*p - prev);
        prev = *p;
      }
    }
  }
}

bool aggregate_index::load(std::string_view in) {
  codec::binary_reader r(in);
  for (auto& s : shards_) {
    uint64_t n = r.uint();
    if (!r.ok() || n > in.size())
      return false;
    std::lock_guard lk(s.mu);
    s.map.reserve(s.map.size() + n);
    for (uint64_t i = 0; i < n; ++i) {
      auto id = r.string();
      uint64_t dropped = r.uint(), count = r.uint();
      uint64_t h = hash(id);
      if (!r.ok() || (count == 0 && dropped == 0) || count > in.size() || &shard_of(h) != &s)
        return false;
      auto& e = find_or_add(s, id, h);
      if (!e.positions.empty())
        return false;
      e.dropped = dropped;
      e.positions.resize(static_cast<uint32_t>(count));
      uint64_t prev = 0;
      for (auto& p : e.positions) {
        uint64_t d = r.uint();
        if (d == 0) // ascending, from 1
          return false;
        p = prev += d;
      }
      if (!r.ok())
        return false;
    }
  }
  return r.at_end();
}

void aggregate_index::settle_dropped() {
  for (auto& s : shards_) {
    std::lock_guard lk(s.mu);
    s.map.for_each([](std::string_view, entry& e) {
      if (e.positions.empty() && e.dropped == 0 && e.snapshot.ref != 0)
        e.dropped = e.snapshot.version;
    });
  }
}

void aggregate_index::clear_positions() {
  for (auto& s : shards_) {
    std::lock_guard lk(s.mu);
    size_t gone = s.map.remove_if([](std::string_view, entry& e) {
      e.positions.clear();
      e.dropped = 0;
      return e.snapshot.ref == 0;
    });
    size_.fetch_sub(gone, std::memory_order_relaxed);
  }
}

uint64_t aggregate_index::forget_before(uint64_t first) {
  uint64_t forgotten = 0;
  for (auto& s : shards_) {
    std::lock_guard lk(s.mu);
    s.map.for_each([&](std::string_view, entry& e) {
      auto cut = std::lower_bound(e.positions.begin(), e.positions.end(), first);
      auto n = static_cast<uint64_t>(cut - e.positions.begin());
      if (n == 0)
        return;
      e.dropped += n;
      forgotten += n;
      if (cut == e.positions.end())
        e.positions.clear(); // the memory goes too
      else
        e.positions.erase_front(static_cast<uint32_t>(n));
    });
  }
  return forgotten;
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
  thread_local std::vector<aggregate_index::indexed> of_type;
  for (size_t t = 0; t < types_.size(); ++t) {
    of_type.clear();
    for (auto& e : events)
      if (e.type == types_[t])
        of_type.push_back({e.id, e.position, e.version});
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

// Each type's name and its index's checkpoint.
void history_index::save(std::string& out, uint64_t position) const {
  codec::binary_writer w(out);
  w.uint(types_.size());
  std::string part;
  for (size_t t = 0; t < types_.size(); ++t) {
    part.clear();
    indexes_[t]->save(part, position);
    w.string(types_[t]->name());
    w.string(part);
  }
}

bool history_index::load(std::string_view in) {
  codec::binary_reader r(in);
  uint64_t n = r.uint();
  if (!r.ok() || n != types_.size())
    return false;
  for (size_t t = 0; t < n; ++t) {
    auto name = r.string();
    auto part = r.string();
    if (!r.ok() || name != types_[t]->name() || !indexes_[t]->load(part))
      return false;
  }
  return r.at_end();
}

void history_index::settle_dropped() {
  for (auto& i : indexes_)
    i->settle_dropped();
}

void history_index::clear_positions() {
  for (auto& i : indexes_)
    i->clear_positions();
}

uint64_t history_index::forget_before(uint64_t first) {
  uint64_t n = 0;
  for (auto& i : indexes_)
    n += i->forget_before(first);
  return n;
}

const aggregate_index& history_index::of(const domain::aggregate_type* type) const {
  for (size_t i = 0; i < types_.size(); ++i)
    if (types_[i] == type)
      return *indexes_[i];
  std::abort(); // every type comes from the registry the index was made for
}

} // namespace sluice::engine
