#include "engine/event_feed.h"

namespace sluice::engine {

std::expected<size_t, log::error> event_feed::read(size_t max,
                                                   const std::function<void(const log::record&)>& visit) {
  uint64_t start = next_;
  auto r = log_->read(next_, max, [&](const log::record& rec) {
    if (type_.empty() ||
        (rec.type.size() > type_.size() && rec.type[type_.size()] == '.' && rec.type.starts_with(type_)))
      visit(rec);
    return true;
  });
  if (!r)
    return std::unexpected(r.error());
  next_ = *r;
  return static_cast<size_t>(next_ - start);
}

} // namespace sluice::engine
