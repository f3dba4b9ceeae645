#include "log/deferred_store.h"

namespace sluice::log {

void deferred_store::set(std::unique_ptr<store> inner) {
  if (on_foreign_)
    inner->on_foreign(on_foreign_);
  owned_ = std::move(inner);
  inner_.store(owned_.get(), std::memory_order_release);
}

void deferred_store::append(write_batch batch, append_callback done) {
  if (auto* s = get())
    return s->append(std::move(batch), std::move(done));
  done(std::unexpected(error{errc::closed, "the database of record is not open yet"}));
}

std::expected<uint64_t, error> deferred_store::read(uint64_t from, size_t max_records,
                                                    const std::function<bool(const record&)>& visit) const {
  if (auto* s = get())
    return s->read(from, max_records, visit);
  return from;
}

uint64_t deferred_store::last_position() const {
  auto* s = get();
  return s ? s->last_position() : 0;
}

uint64_t deferred_store::first_position() const {
  auto* s = get();
  return s ? s->first_position() : 1;
}

std::vector<segment_info> deferred_store::segments() const {
  auto* s = get();
  return s ? s->segments() : std::vector<segment_info>{};
}

std::expected<uint64_t, error> deferred_store::delete_before(uint64_t base) {
  auto* s = get();
  return s ? s->delete_before(base) : 0;
}

void deferred_store::close() {
  if (auto* s = get())
    s->close();
}

bool deferred_store::failed() const {
  auto* s = get();
  return s && s->failed();
}

bool deferred_store::unavailable() const {
  auto* s = get();
  return s && s->unavailable();
}

bool deferred_store::resume(uint64_t min_free) {
  auto* s = get();
  return !s || s->resume(min_free);
}

size_t deferred_store::max_group_bytes() const {
  auto* s = get();
  return s ? s->max_group_bytes() : SIZE_MAX;
}

uint64_t deferred_store::syncs() const {
  auto* s = get();
  return s ? s->syncs() : 0;
}

uint64_t deferred_store::appended_records() const {
  auto* s = get();
  return s ? s->appended_records() : 0;
}

const duration_histogram& deferred_store::sync_durations() const {
  auto* s = get();
  return s ? s->sync_durations() : none_;
}

} // namespace sluice::log
