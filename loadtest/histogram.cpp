#include "histogram.h"

#include <algorithm>
#include <bit>
#include <cmath>

namespace sluice::load {

size_t histogram::index_of(uint64_t value) {
  // Keep the top k_sub_bits bits: `shift` counts the dropped ones, and each
  // shift has its own run of k_half buckets.
  int width = static_cast<int>(std::bit_width(value));
  int shift = width > k_sub_bits ? width - k_sub_bits : 0;
  return static_cast<size_t>(shift) * k_half + static_cast<size_t>(value >> shift);
}

uint64_t histogram::value_at(size_t index) {
  if (index < 2 * k_half)
    return index;
  uint64_t shift = index / k_half - 1;
  uint64_t top = index - shift * k_half;
  uint64_t low = top << shift;
  return low + ((uint64_t{1} << shift) >> 1);
}

void histogram::merge(const histogram& other) {
  for (size_t i = 0; i < k_buckets; ++i)
    counts_[i] += other.counts_[i];
  count_ += other.count_;
  sum_ += other.sum_;
  max_ = std::max(max_, other.max_);
  min_ = std::min(min_, other.min_);
}

uint64_t histogram::percentile(double p) const {
  if (count_ == 0)
    return 0;
  p = std::clamp(p, 0.0, 100.0);
  auto rank = static_cast<uint64_t>(std::ceil(p / 100.0 * static_cast<double>(count_)));
  rank = std::clamp<uint64_t>(rank, 1, count_);
  uint64_t seen = 0;
  for (size_t i = 0; i < k_buckets; ++i) {
    seen += counts_[i];
    if (seen >= rank)
      return std::clamp(value_at(i), min(), max());
  }
  return max();
}

} // namespace sluice::load
