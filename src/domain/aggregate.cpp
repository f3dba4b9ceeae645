#include "domain/aggregate.h"

#include "base/checksum.h"
#include "codec/binary.h"

#include <fmt/format.h>

#include <bit>

namespace sluice::domain {

aggregate::aggregate(const aggregate_type& type, std::string id)
    : type_(&type), id_(std::move(id)), state_(type.make_state()) {}

// The window's ids are found through `table`, an open-addressing table of
// window slots keyed by the id's hash: a lookup touches a cache line or two
// where scanning the window touched 4 KB (most lookups miss: a new id).
namespace {
constexpr uint32_t k_tag_mask = 0xffff0000u;
size_t home_of(uint32_t tagged, size_t mask) { return (tagged >> 16) & mask; }
} // namespace

uint32_t aggregate::id_hash(std::string_view command_id) { return checksum32(command_id.data(), command_id.size()); }

const aggregate::seen_command* aggregate::find(std::string_view command_id, uint32_t hash) const {
  if (!table_)
    return nullptr;
  uint32_t tag = hash & k_tag_mask;
  size_t mask = table_mask_;
  for (size_t i = home_of(tag, mask); table_[i] != 0; i = (i + 1) & mask) {
    if ((table_[i] & k_tag_mask) != tag)
      continue;
    auto& seen = window_->ring[(table_[i] & 0xffffu) - 1u];
    if (seen.id == command_id)
      return &seen;
  }
  return nullptr;
}

void aggregate::table_insert(size_t slot) {
  size_t mask = table_mask_;
  uint32_t entry = (window_->ring[slot].hash & k_tag_mask) | static_cast<uint32_t>(slot + 1);
  size_t i = home_of(entry, mask);
  while (table_[i] != 0)
    i = (i + 1) & mask;
  table_[i] = entry;
}

// Backward-shift deletion: entries after the hole that may move into it do,
// so no probe sequence is ever broken by an empty cell.
void aggregate::table_erase(size_t slot) {
  size_t mask = table_mask_;
  uint32_t entry = (window_->ring[slot].hash & k_tag_mask) | static_cast<uint32_t>(slot + 1);
  size_t hole = home_of(entry, mask);
  while (table_[hole] != entry)
    hole = (hole + 1) & mask;
  for (size_t j = (hole + 1) & mask; table_[j] != 0; j = (j + 1) & mask) {
    size_t home = home_of(table_[j], mask);
    bool stays = hole <= j ? (hole < home && home <= j) : (hole < home || home <= j);
    if (stays)
      continue;
    table_[hole] = table_[j];
    hole = j;
  }
  table_[hole] = 0;
}

aggregate::seen_command& aggregate::remember(std::string_view command_id, uint32_t h) {
  static_assert(k_idempotency_window < UINT16_MAX, "table entries hold slots in 16 bits");
  if (!window_)
    window_ = std::make_unique<window>();
  auto& w = *window_;
  if (w.ring.size() < k_idempotency_window) {
    w.ring.push_back({command_id});
    w.ring.back().hash = h;
    if (!table_ || w.ring.size() * 2 > size_t{table_mask_} + 1) {
      // At most half full: rebuild at twice the size.
      size_t cells = std::max<size_t>(8, std::bit_ceil(w.ring.size() * 2));
      table_ = std::make_unique<uint32_t[]>(cells); // zeroed
      table_mask_ = static_cast<uint32_t>(cells - 1);
      for (size_t slot = 0; slot < w.ring.size(); ++slot)
        table_insert(slot);
    } else {
      table_insert(w.ring.size() - 1);
    }
    return w.ring.back();
  }
  table_erase(w.next);
  auto& slot = w.ring[w.next];
  slot.id.assign(command_id);
  slot.last_version = slot.last_position = 0;
  slot.events = 0;
  slot.hash = h;
  table_insert(w.next);
  w.next = (w.next + 1) % k_idempotency_window;
  return slot;
}

outcome aggregate::handle(const command& cmd, event_list& out) {
  outcome o;
  if (cmd.type != type_ || cmd.aggregate_id != std::string_view(id_)) [[unlikely]] {
    // A routing defect: deciding it here would write another aggregate's events under this one.
    o.result = outcome::kind::rejected;
    o.version = version_;
    o.message = fmt::format("a command for {} '{}' reached aggregate {} '{}'", cmd.type ? cmd.type->name() : "?",
                            std::string_view(cmd.aggregate_id), type_->name(), id_);
    return o;
  }
  uint32_t hash = cmd.command_id.empty() ? 0 : id_hash(cmd.command_id);
  if (!cmd.command_id.empty())
    if (auto* seen = find(cmd.command_id, hash)) {
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
    out.resize(first); // what it emitted before refusing is not the aggregate's
    o.result = outcome::kind::rejected;
    o.version = version_;
    o.message = std::move(d.error());
    return o;
  }
  if (out.size() == first) [[unlikely]] {
    // Accepted without an event, the answer would carry the position of
    // the aggregate's previous command: nothing a client could wait for.
    auto names = type_->command_names();
    o.result = outcome::kind::rejected;
    o.version = version_;
    o.message = fmt::format(
        "{} '{}' decided {} without an event (a defect of the domain: a decider that accepts a command emits at "
        "least one event; to refuse it, return an error)",
        type_->name(), id_, cmd.kind < names.size() ? names[cmd.kind] : std::string_view("?"));
    return o;
  }
  for (size_t i = first; i < out.size(); ++i)
    type_->evolve(*state_, out[i].type, out[i].data);
  version_ += out.size() - first;
  o.result = outcome::kind::accepted;
  o.version = version_;
  o.events = static_cast<uint32_t>(out.size() - first);
  if (!cmd.command_id.empty()) {
    auto& seen = remember(cmd.command_id, hash);
    seen.last_version = version_;
    seen.events = o.events;
  }
  return o;
}

void aggregate::durable(std::string_view command_id, uint64_t last_position) {
  if (command_id.empty())
    return;
  if (auto* seen = const_cast<seen_command*>(find(command_id, id_hash(command_id))))
    seen->last_position = last_position;
}

bool aggregate::apply(const log::record& r) {
  if (r.version != version_ + 1 || !type_->evolve(*state_, r.type, r.data))
    return false;
  version_ = r.version;
  if (!r.command_id.empty()) {
    // Consecutive records of one command extend its entry.
    uint32_t hash = id_hash(r.command_id);
    auto* seen = const_cast<seen_command*>(find(r.command_id, hash));
    if (!seen || seen->last_version + 1 != r.version)
      seen = &remember(r.command_id, hash);
    seen->last_version = r.version;
    seen->last_position = r.position;
    ++seen->events;
  }
  return true;
}

void aggregate::reset() {
  state_ = type_->make_state();
  version_ = 0;
  window_.reset();
  table_.reset();
  table_mask_ = 0;
}

void aggregate::encode_snapshot(std::string& out) const {
  codec::binary_writer w(out);
  w.uint(version_);
  size_t n = window_ ? window_->ring.size() : 0;
  w.uint(n);
  // Oldest first: restoring them in this order keeps the order they leave in.
  size_t start = n == k_idempotency_window ? window_->next : 0;
  for (size_t i = 0; i < n; ++i) {
    auto& seen = window_->ring[(start + i) % n];
    w.string(seen.id.view());
    w.uint(seen.last_version);
    w.uint(seen.last_position);
    w.uint(seen.events);
  }
  std::string state;
  type_->encode_state(*state_, state);
  w.string(state);
}

bool aggregate::settle_positions(std::string& body, const std::function<uint64_t(uint64_t)>& position_of) {
  codec::binary_reader r(body);
  uint64_t version = r.uint();
  uint64_t n = r.uint();
  if (!r.ok() || n > k_idempotency_window)
    return false;
  struct entry {
    std::string_view id;
    uint64_t last_version, last_position, events;
  };
  std::vector<entry> window(n);
  bool unsettled = false;
  for (auto& e : window) {
    e.id = r.string();
    e.last_version = r.uint();
    e.last_position = r.uint();
    e.events = r.uint();
    if (!r.ok())
      return false;
    unsettled = unsettled || e.last_position == 0;
  }
  if (!unsettled)
    return true;
  auto state = r.string();
  if (!r.ok() || !r.at_end())
    return false;
  std::string out;
  codec::binary_writer w(out);
  w.uint(version);
  w.uint(n);
  for (auto& e : window) {
    w.string(e.id);
    w.uint(e.last_version);
    w.uint(e.last_position != 0 ? e.last_position : position_of(e.last_version));
    w.uint(e.events);
  }
  w.string(state);
  body = std::move(out);
  return true;
}

void aggregate::settle(uint64_t up_to, const std::function<uint64_t(uint64_t)>& position_of) {
  if (!window_)
    return;
  for (auto& seen : window_->ring)
    if (seen.last_position == 0 && seen.last_version != 0 && seen.last_version <= up_to)
      seen.last_position = position_of(seen.last_version);
}

bool aggregate::restore(std::string_view body) {
  reset();
  codec::binary_reader r(body);
  uint64_t version = r.uint();
  uint64_t n = r.uint();
  if (!r.ok() || n > k_idempotency_window) {
    reset();
    return false;
  }
  for (uint64_t i = 0; i < n; ++i) {
    auto id = r.string();
    uint64_t last_version = r.uint(), last_position = r.uint(), events = r.uint();
    if (!r.ok() || id.empty() || last_version > version || events > last_version || events > UINT32_MAX) {
      reset();
      return false;
    }
    uint32_t hash = id_hash(id);
    if (find(id, hash)) { // a window never holds an id twice
      reset();
      return false;
    }
    auto& seen = remember(id, hash);
    seen.last_version = last_version;
    seen.last_position = last_position;
    seen.events = static_cast<uint32_t>(events);
  }
  auto state = r.string();
  if (!r.ok() || !r.at_end() || !type_->decode_state(state, *state_)) {
    reset();
    return false;
  }
  version_ = version;
  return true;
}

size_t aggregate::footprint() const {
  size_t n = sizeof *this + (id_.capacity() > 15 ? id_.capacity() : 0);
  if (!window_)
    return n;
  auto& w = *window_;
  n += sizeof w + w.ring.capacity() * sizeof(seen_command) + (size_t{table_mask_} + 1) * sizeof(uint32_t);
  for (auto& s : w.ring)
    n += s.id.size() > short_string::k_inline ? s.id.size() : 0;
  return n;
}

} // namespace sluice::domain
