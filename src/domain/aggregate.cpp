#include "domain/aggregate.h"

#include "base/checksum.h"

#include <fmt/format.h>

namespace sluice::domain {

aggregate::aggregate(const aggregate_type& type, std::string id)
    : type_(&type), id_(std::move(id)), state_(type.make_state()) {}

const aggregate::seen_command* aggregate::find(std::string_view command_id) const {
  uint32_t h = checksum32(command_id.data(), command_id.size());
  for (size_t i = 0; i < hashes_.size(); ++i)
    if (hashes_[i] == h && window_[i].id == command_id)
      return &window_[i];
  return nullptr;
}

aggregate::seen_command& aggregate::remember(std::string_view command_id) {
  uint32_t h = checksum32(command_id.data(), command_id.size());
  if (window_.size() < k_idempotency_window) {
    window_.push_back({std::string(command_id)});
    hashes_.push_back(h);
    return window_.back();
  }
  auto& slot = window_[next_];
  slot = {std::string(command_id)};
  hashes_[next_] = h;
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
  // Only the latest occurrence can be pending; search from newest if we ever need speed here.
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
  next_ = 0;
}

size_t aggregate::footprint() const {
  size_t n = sizeof *this + id_.capacity() + window_.capacity() * sizeof(seen_command) +
             hashes_.capacity() * sizeof(uint32_t);
  for (auto& s : window_)
    n += s.id.capacity() > 15 ? s.id.capacity() : 0;
  return n;
}

} // namespace sluice::domain
