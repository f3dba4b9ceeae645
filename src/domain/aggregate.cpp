#include "domain/aggregate.h"

#include "base/checksum.h"

#include <fmt/format.h>

#include <bit>

namespace sluice::domain {

aggregate::aggregate(const aggregate_type& type, std::string id)
    : type_(&type), id_(std::move(id)), state_(type.make_state()) {}

// The window's ids are found through `table_`, an open-addressing table of
// window slots keyed by the id's hash: a lookup touches a cache line or two
// where scanning the window touched 4 KB (most lookups miss: a new id).
const aggregate::seen_command* aggregate::find(std::string_view command_id) const {
  if (table_.empty())
    return nullptr;
  uint32_t h = checksum32(command_id.data(), command_id.size());
  size_t mask = table_.size() - 1;
  for (size_t i = h & mask; table_[i] != 0; i = (i + 1) & mask) {
    size_t slot = table_[i] - 1u;
    if (hashes_[slot] == h && window_[slot].id == command_id)
      return &window_[slot];
  }
  return nullptr;
}

void aggregate::table_insert(size_t slot) {
  size_t mask = table_.size() - 1;
  size_t i = hashes_[slot] & mask;
  while (table_[i] != 0)
    i = (i + 1) & mask;
  table_[i] = static_cast<uint16_t>(slot + 1);
}

// Backward-shift deletion: entries after the hole that may move into it do,
// so no probe sequence is ever broken by an empty cell.
void aggregate::table_erase(size_t slot) {
  size_t mask = table_.size() - 1;
  size_t hole = hashes_[slot] & mask;
  while (table_[hole] != slot + 1)
    hole = (hole + 1) & mask;
  for (size_t j = (hole + 1) & mask; table_[j] != 0; j = (j + 1) & mask) {
    size_t home = hashes_[table_[j] - 1u] & mask;
    bool stays = hole <= j ? (hole < home && home <= j) : (hole < home || home <= j);
    if (stays)
      continue;
    table_[hole] = table_[j];
    hole = j;
  }
  table_[hole] = 0;
}

aggregate::seen_command& aggregate::remember(std::string_view command_id) {
  static_assert(k_idempotency_window < UINT16_MAX, "table_ holds slots as uint16_t");
  uint32_t h = checksum32(command_id.data(), command_id.size());
  if (window_.size() < k_idempotency_window) {
    window_.push_back({std::string(command_id)});
    hashes_.push_back(h);
    if (window_.size() * 2 > table_.size()) {
      // At most half full: rebuild at twice the size.
      table_.assign(std::max<size_t>(8, std::bit_ceil(window_.size() * 2)), 0);
      for (size_t slot = 0; slot < window_.size(); ++slot)
        table_insert(slot);
    } else {
      table_insert(window_.size() - 1);
    }
    last_slot_ = window_.size() - 1;
    return window_.back();
  }
  table_erase(next_);
  auto& slot = window_[next_];
  slot = {std::string(command_id)};
  hashes_[next_] = h;
  table_insert(next_);
  last_slot_ = next_;
  next_ = (next_ + 1) % k_idempotency_window;
  return slot;
}

outcome aggregate::handle(const command& cmd, std::vector<new_event>& out) {
  outcome o;
  if (!cmd.command_id.empty())
    if (auto* seen = find(cmd.command_id)) {
      o.result = outcome::kind::duplicate;
      o.version = seen->last_version;
      o.position = seen->last_position;
      o.events = seen->events;
      return o;
    }
  if (cmd.expected_version && *cmd.expected_version != version_) {
    o.result = outcome::kind::conflict;
    o.version = version_;
    o.message = fmt::format("expected version {}, actual version {}", *cmd.expected_version, version_);
    return o;
  }
  size_t first = out.size();
  auto d = type_->decide(*state_, cmd.kind, cmd.payload, out);
  if (!d) {
    o.result = outcome::kind::rejected;
    o.version = version_;
    o.message = std::move(d.error());
    return o;
  }
  for (size_t i = first; i < out.size(); ++i)
    type_->evolve(*state_, out[i].type, out[i].data);
  version_ += out.size() - first;
  o.result = outcome::kind::accepted;
  o.version = version_;
  o.events = static_cast<uint32_t>(out.size() - first);
  if (!cmd.command_id.empty()) {
    auto& seen = remember(cmd.command_id);
    seen.last_version = version_;
    seen.events = o.events;
  }
  return o;
}

void aggregate::durable(std::string_view command_id, uint64_t last_position) {
  if (command_id.empty())
    return;
  if (auto* seen = const_cast<seen_command*>(find(command_id)))
    seen->last_position = last_position;
}

bool aggregate::apply(const log::record& r) {
  if (r.version != version_ + 1 || !type_->evolve(*state_, r.type, r.data))
    return false;
  version_ = r.version;
  if (!r.command_id.empty()) {
    // Consecutive records of one command extend its entry.
    auto* seen = const_cast<seen_command*>(find(r.command_id));
    if (!seen || seen->last_version + 1 != r.version)
      seen = &remember(r.command_id);
    seen->last_version = r.version;
    seen->last_position = r.position;
    ++seen->events;
  }
  return true;
}

void aggregate::reset() {
  state_ = type_->make_state();
  version_ = 0;
  window_.clear();
  hashes_.clear();
  table_.clear();
  next_ = 0;
}

size_t aggregate::footprint() const {
  size_t n = sizeof *this + id_.capacity() + window_.capacity() * sizeof(seen_command) +
             hashes_.capacity() * sizeof(uint32_t) + table_.capacity() * sizeof(uint16_t);
  for (auto& s : window_)
    n += s.id.capacity() > 15 ? s.id.capacity() : 0;
  return n;
}

} // namespace sluice::domain
