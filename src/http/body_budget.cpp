#include "http/body_budget.h"

#include <algorithm>

namespace sluice::http {

bool body_budget::take(size_t n) {
  if (n == 0)
    return true;
  size_t used = used_.load(std::memory_order_relaxed);
  do {
    if (n > capacity_ - std::min(used, capacity_))
      return false;
  } while (!used_.compare_exchange_weak(used, used + n, std::memory_order_relaxed));
  return true;
}

void body_budget::give(size_t n) {
  if (n)
    used_.fetch_sub(n, std::memory_order_relaxed);
}

// A share is at most two chunks, a chunk 1/64 of the budget (at most
// 256 KiB): idle threads' shares keep little from the others.
budget_share::budget_share(body_budget& b) : budget_(b), chunk_(std::min<size_t>(256 << 10, b.capacity() / 64)) {}

budget_share::~budget_share() { budget_.give(held_); }

bool budget_share::take(size_t n) {
  if (n <= held_) {
    held_ -= n;
    return true;
  }
  size_t more = std::max(n - held_, chunk_);
  if (!budget_.take(more)) {
    if (!budget_.take(n - held_)) // the chunk did not fit; the body alone may
      return false;
    more = n - held_;
  }
  held_ = held_ + more - n;
  return true;
}

void budget_share::give(size_t n) {
  held_ += n;
  if (held_ > 2 * chunk_) {
    budget_.give(held_ - chunk_);
    held_ = chunk_;
  }
}

} // namespace sluice::http
