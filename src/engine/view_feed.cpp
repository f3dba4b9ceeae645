#include "engine/view_feed.h"

#include <algorithm>

namespace sluice::engine {

namespace {
std::atomic<uint64_t> g_conflated{0};
} // namespace

uint64_t view_feed::conflated_total() { return g_conflated.load(std::memory_order_relaxed); }

void view_feed::snapshot(std::string key, std::shared_ptr<const std::string> value, uint64_t position) {
  std::lock_guard lk(mu_);
  snapshots_.push_back({item_kind::snapshot, std::move(key), std::move(value), position, {}});
}

void view_feed::registered(uint64_t position) {
  std::unique_lock lk(mu_);
  subscribed_at_ = std::min(subscribed_at_, position);
  if (shards_left_ > 0 && --shards_left_ == 0)
    maybe_wake(lk);
}

void view_feed::change(const std::string& key, std::shared_ptr<const std::string> value, uint64_t position) {
  std::unique_lock lk(mu_);
  auto [it, fresh] = changes_.try_emplace(key);
  if (!fresh) {
    conflated_.fetch_add(1, std::memory_order_relaxed);
    g_conflated.fetch_add(1, std::memory_order_relaxed);
  } else
    order_.push_back(key);
  auto kind = !fresh && it->second.kind == item_kind::rebuilt ? item_kind::rebuilt : item_kind::change;
  it->second = {kind, key, std::move(value), position, {}};
  if (shards_left_ == 0)
    maybe_wake(lk);
}

void view_feed::parked(const std::string& key, uint64_t position, std::string error) {
  std::unique_lock lk(mu_);
  auto [it, fresh] = changes_.try_emplace(key);
  if (fresh)
    order_.push_back(key);
  it->second = {item_kind::parked, key, nullptr, position, std::move(error)};
  if (shards_left_ == 0)
    maybe_wake(lk);
}

void view_feed::rebuilt(const std::string& key, std::shared_ptr<const std::string> value, uint64_t position) {
  std::unique_lock lk(mu_);
  auto [it, fresh] = changes_.try_emplace(key);
  if (fresh)
    order_.push_back(key);
  it->second = {item_kind::rebuilt, key, std::move(value), position, {}};
  if (shards_left_ == 0)
    maybe_wake(lk);
}

void view_feed::maybe_wake(std::unique_lock<std::mutex>& lk) {
  if (!waiting_ || closed())
    return;
  waiting_ = false;
  lk.unlock();
  wake_();
}

size_t view_feed::take(std::vector<feed_item>& out, size_t max) {
  std::lock_guard lk(mu_);
  size_t n = 0;
  if (shards_left_ == 0) {
    if (!announced_ && n < max) {
      out.push_back({item_kind::subscribed, {}, nullptr, subscribed_at_, {}});
      announced_ = true;
      ++n;
    }
    for (; snapshots_taken_ < snapshots_.size() && n < max; ++n)
      out.push_back(std::move(snapshots_[snapshots_taken_++]));
    if (snapshots_taken_ == snapshots_.size() && !snapshots_.empty()) {
      snapshots_.clear();
      snapshots_.shrink_to_fit();
      snapshots_taken_ = 0;
    }
    for (; !order_.empty() && n < max && snapshots_.empty(); ++n) {
      auto node = changes_.extract(order_.front());
      order_.pop_front();
      out.push_back(std::move(node.mapped()));
    }
  }
  if (n == 0)
    waiting_ = true;
  return n;
}

size_t view_feed::pending() const {
  std::lock_guard lk(mu_);
  return changes_.size();
}

} // namespace sluice::engine
