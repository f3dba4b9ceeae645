#include "engine/replay.h"

#include <fmt/format.h>

namespace sluice::engine {

std::expected<replay_report, std::string> replay(const log::store& log, const domain::registry& types,
                                                 replay_sinks sinks, const std::atomic<bool>& stop) {
  replay_report report;
  auto batch = std::make_shared<views::event_batch>();
  std::string failure;
  auto r = log.read(sinks.from, SIZE_MAX, [&](const log::record& rec) {
    if (stop.load(std::memory_order_relaxed)) {
      failure = "stopped during recovery";
      return false;
    }
    auto* type = types.type_of_event(rec.type);
    if (!type) {
      failure = fmt::format("position {}: unknown event type '{}'", rec.position, rec.type);
      return false;
    }
    if (rec.position > sinks.indexed_to)
      sinks.index.of(type).add(rec.aggregate_id, rec.position, rec.version);
    if (!batch->fits(rec)) {
      sinks.publish(std::move(batch));
      batch = std::make_shared<views::event_batch>();
    }
    batch->add(rec);
    if (batch->size() >= sinks.batch_events) {
      sinks.publish(std::move(batch));
      batch = std::make_shared<views::event_batch>();
    }
    ++report.events;
    return true;
  });
  if (!r)
    return std::unexpected(r.error().message);
  if (!failure.empty())
    return std::unexpected(failure);
  if (!batch->empty())
    sinks.publish(std::move(batch));
  report.next = *r;
  return report;
}

} // namespace sluice::engine
