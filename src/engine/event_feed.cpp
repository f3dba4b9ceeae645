#include "engine/event_feed.h"

#include <utility>

namespace sluice::engine {

std::expected<size_t, log::error> event_feed::read(size_t max, const std::function<void(const log::record&)>& visit) {
  uint64_t start = next_;
  bool first = true, gap = false;
  auto r = log_->read(next_, max, [&](const log::record& rec) {
    // Retention deleted the next events while this feed was behind: it
    // stays where it is (the subscriber is told, SPEC §9), skipping nothing.
    if (std::exchange(first, false) && rec.position != start) {
      gap = true;
      return false;
    }
    if (type_.empty() ||
        (rec.type.size() > type_.size() && rec.type[type_.size()] == '.' && rec.type.starts_with(type_)))
      visit(rec);
    return true;
  });
  if (!r)
    return std::unexpected(r.error());
  if (gap)
    return 0;
  next_ = *r;
  return static_cast<size_t>(next_ - start);
}

} // namespace sluice::engine
