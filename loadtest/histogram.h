// A log-linear latency histogram in the manner of HdrHistogram: exact below
// 256, then 128 linear buckets per power of two, so any recorded value is
// reported within 0.8% of itself. Fixed size, no allocation after
// construction, mergeable across threads.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

namespace sluice::load {

class histogram {
 public:
  static constexpr int k_sub_bits = 8;
  static constexpr uint64_t k_half = uint64_t{1} << (k_sub_bits - 1);
  static constexpr size_t k_buckets = (64 - k_sub_bits + 2) * k_half;

  void record(uint64_t value) {
    ++counts_[index_of(value)];
    ++count_;
    sum_ += value;
    if (value > max_)
      max_ = value;
    if (value < min_)
      min_ = value;
  }

  void merge(const histogram& other);
  void reset() { *this = histogram{}; }

  uint64_t count() const { return count_; }
  uint64_t max() const { return count_ ? max_ : 0; }
  uint64_t min() const { return count_ ? min_ : 0; }
  double mean() const { return count_ ? static_cast<double>(sum_) / static_cast<double>(count_) : 0.0; }

  /// The value at percentile `p` (0–100): the smallest recorded value v such
  /// that at least p% of the values are ≤ v, to within the bucket width.
  uint64_t percentile(double p) const;

  static size_t index_of(uint64_t value);
  /// The middle of the bucket `index` covers.
  static uint64_t value_at(size_t index);

 private:
  std::array<uint64_t, k_buckets> counts_{};
  uint64_t count_ = 0;
  uint64_t sum_ = 0;
  uint64_t max_ = 0;
  uint64_t min_ = UINT64_MAX;
};

} // namespace sluice::load
