// The e2e workload's pairing of acknowledgements with WebSocket changes.
// Internal to the driver. Thread-safe.
#pragma once

#include "histogram.h"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <unordered_map>

namespace sluice::load::detail {

/// Pairs each acknowledgement with the WebSocket change of the same
/// position, whichever arrives first.
class e2e_matcher {
  using steady = std::chrono::steady_clock;

 public:
  void on_ack(uint64_t position, steady::time_point t) {
    std::lock_guard lock(mu_);
    if (auto it = changes_.find(position); it != changes_.end()) {
      hist_.record(0); // the change overtook the answer
      changes_.erase(it);
    } else {
      acks_.emplace(position, t);
    }
  }
  void on_change(uint64_t position, steady::time_point t) {
    std::lock_guard lock(mu_);
    if (auto it = acks_.find(position); it != acks_.end()) {
      hist_.record(static_cast<uint64_t>(std::max<int64_t>(0, (t - it->second).count())));
      acks_.erase(it);
    } else {
      changes_.emplace(position, t);
    }
  }
  /// Forgets what waited longer than `age` (conflated changes, changes of
  /// other writers), so memory stays bounded.
  void expire(steady::time_point now, std::chrono::seconds age) {
    std::lock_guard lock(mu_);
    std::erase_if(acks_, [&](auto& kv) {
      bool old = now - kv.second > age;
      unmatched_ += old;
      return old;
    });
    std::erase_if(changes_, [&](auto& kv) { return now - kv.second > age; });
  }
  void finish(histogram& out, uint64_t& unmatched) {
    std::lock_guard lock(mu_);
    out = hist_;
    unmatched = unmatched_ + acks_.size();
  }

 private:
  std::mutex mu_;
  std::unordered_map<uint64_t, steady::time_point> acks_;
  std::unordered_map<uint64_t, steady::time_point> changes_;
  histogram hist_;
  uint64_t unmatched_ = 0;
};

} // namespace sluice::load::detail
