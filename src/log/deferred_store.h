// A store that is opened later: what a node serves while its database of
// record cannot be reached yet (SPEC §14: a cluster node keeps trying,
// `/readyz` answers 503). Until set() it is empty and refuses appends with
// `closed`; from then on every call goes to the store set.
#pragma once

#include "log/store.h"

#include <atomic>
#include <memory>

namespace sluice::log {

class deferred_store final : public store {
 public:
  /// Hands over `inner`, once. The hooks set so far are passed on: the
  /// foreign-records one here; the segment one the opener gives `inner`
  /// itself before its threads start (segment_closed_hook()).
  void set(std::unique_ptr<store> inner);
  bool is_set() const { return inner_.load(std::memory_order_acquire) != nullptr; }
  const std::function<void()>& segment_closed_hook() const { return on_segment_closed_; }

  void append(write_batch batch, append_callback done) override;
  std::expected<uint64_t, error> read(uint64_t from, size_t max_records,
                                      const std::function<bool(const record&)>& visit) const override;
  uint64_t last_position() const override;
  uint64_t first_position() const override;
  std::vector<segment_info> segments() const override;
  std::expected<uint64_t, error> delete_before(uint64_t base) override;
  void on_segment_closed(std::function<void()> f) override { on_segment_closed_ = std::move(f); }
  void on_foreign(std::function<void(append_result)> f) override { on_foreign_ = std::move(f); }
  void close() override;
  bool failed() const override;
  bool unavailable() const override;
  bool resume(uint64_t min_free) override;
  size_t max_group_bytes() const override;
  uint64_t syncs() const override;
  uint64_t appended_records() const override;
  const duration_histogram& sync_durations() const override;

 private:
  store* get() const { return inner_.load(std::memory_order_acquire); }

  std::unique_ptr<store> owned_;
  std::atomic<store*> inner_{nullptr};
  std::function<void()> on_segment_closed_;
  std::function<void(append_result)> on_foreign_;
  duration_histogram none_;
};

} // namespace sluice::log
