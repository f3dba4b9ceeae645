#include "actors/foreign_events.h"

#include "base/logger.h"

#include <algorithm>

namespace sluice::actors {

namespace {
const logger k_log("cluster");
constexpr size_t k_batch_events = 4096;
} // namespace

void foreign_events::appended(log::append_result at) {
  std::lock_guard lk(mu_);
  if (!live_)
    return; // recovery reads it
  feed(std::max(at.first, next_), at.last);
}

void foreign_events::catch_up(uint64_t next) {
  std::lock_guard lk(mu_);
  next_ = next;
  feed(next, log_.last_position());
  live_ = true;
}

void foreign_events::feed(uint64_t from, uint64_t to) {
  if (from > to)
    return;
  std::vector<batch_ptr> batches;
  auto batch = std::make_shared<views::event_batch>();
  auto r = std::make_shared<reload_request>();
  uint64_t last = from - 1;
  auto read = log_.read(from, to + 1 - from, [&](const log::record& rec) {
    auto* type = types_.type_of_event(rec.type);
    if (!type) {
      k_log.error("position {}: unknown event type '{}': not in this node's views", rec.position, rec.type);
      last = rec.position;
      return true;
    }
    index_.of(type).add(rec.aggregate_id, rec.position, rec.version);
    r->ids.emplace_back(type, std::string(rec.aggregate_id));
    if (!batch->fits(rec) || batch->size() >= k_batch_events) {
      batches.push_back(std::move(batch));
      batch = std::make_shared<views::event_batch>();
    }
    batch->add(rec);
    last = rec.position;
    return true;
  });
  if (!read)
    k_log.error("reading positions {}..{} another node appended: {}", from, to, read.error().message);
  events_.fetch_add(last + 1 - from, std::memory_order_relaxed);
  next_ = last + 1;
  // Indexed before anyone hears of it, as for this node's own groups.
  journal_.set_indexed_to(last);
  batches.push_back(std::move(batch));
  for (auto& b : batches)
    if (!b->empty())
      journal_.publish(b);
  // A live aggregate they touched holds the state before them.
  std::sort(r->ids.begin(), r->ids.end());
  r->ids.erase(std::unique(r->ids.begin(), r->ids.end()), r->ids.end());
  if (!r->ids.empty())
    reload_(std::move(r));
}

} // namespace sluice::actors
