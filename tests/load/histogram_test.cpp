#include "histogram.h"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

using sluice::load::histogram;

namespace {

// The exact percentile of a sorted sample, by the same rank rule.
uint64_t reference(const std::vector<uint64_t>& sorted, double p) {
  auto rank = static_cast<size_t>(std::ceil(p / 100.0 * static_cast<double>(sorted.size())));
  return sorted[std::clamp<size_t>(rank, 1, sorted.size()) - 1];
}

} // namespace

TEST_CASE("histogram: values below 256 are exact") {
  histogram h;
  for (uint64_t v = 0; v < 256; ++v)
    h.record(v);
  for (uint64_t v = 0; v < 256; ++v)
    CHECK(histogram::value_at(histogram::index_of(v)) == v);
  CHECK(h.percentile(50) == 127);
  CHECK(h.percentile(100) == 255);
  CHECK(h.min() == 0);
  CHECK(h.max() == 255);
}

TEST_CASE("histogram: every bucket holds the values it reports, within 0.8%") {
  for (uint64_t v : {256ull, 257ull, 1000ull, 65'535ull, 1'000'000ull, 123'456'789ull, 1ull << 40, ~0ull >> 1, ~0ull}) {
    auto i = histogram::index_of(v);
    REQUIRE(i < histogram::k_buckets);
    double reported = static_cast<double>(histogram::value_at(i));
    CHECK(std::abs(reported - static_cast<double>(v)) / static_cast<double>(v) <= 1.0 / 128);
  }
  // Indexes grow with values: no bucket is shared by two ranges.
  size_t last = 0;
  for (uint64_t v = 1; v < (1ull << 62); v = v * 3 / 2 + 1) {
    CHECK(histogram::index_of(v) >= last);
    last = histogram::index_of(v);
  }
}

TEST_CASE("histogram: percentiles agree with a sorted reference") {
  std::mt19937_64 rng(42);
  // Latency-like: log-normal around 500 µs in nanoseconds, with a tail.
  std::lognormal_distribution<double> dist(std::log(500'000.0), 0.8);
  std::vector<uint64_t> values;
  histogram h;
  for (int i = 0; i < 200'000; ++i) {
    auto v = static_cast<uint64_t>(dist(rng));
    values.push_back(v);
    h.record(v);
  }
  std::sort(values.begin(), values.end());
  REQUIRE(h.count() == values.size());
  CHECK(h.max() == values.back());
  CHECK(h.min() == values.front());
  for (double p : {1.0, 50.0, 90.0, 99.0, 99.9, 99.99, 100.0}) {
    double want = static_cast<double>(reference(values, p));
    double got = static_cast<double>(h.percentile(p));
    INFO("p" << p << " want " << want << " got " << got);
    CHECK(std::abs(got - want) / want <= 1.0 / 128);
  }
}

TEST_CASE("histogram: merging equals recording everything in one") {
  histogram a, b, all;
  for (uint64_t v = 1; v < 100'000; v += 7) {
    (v % 2 ? a : b).record(v * 13);
    all.record(v * 13);
  }
  a.merge(b);
  CHECK(a.count() == all.count());
  CHECK(a.mean() == all.mean());
  for (double p : {10.0, 50.0, 99.0})
    CHECK(a.percentile(p) == all.percentile(p));
  histogram empty;
  CHECK(empty.percentile(99) == 0);
  CHECK(empty.max() == 0);
}
