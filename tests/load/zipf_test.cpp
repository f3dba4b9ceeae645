#include "zipf.h"

#include <catch2/catch.hpp>

#include <cmath>
#include <vector>

using sluice::load::key_chooser;

TEST_CASE("zipf: frequencies follow k^-s") {
  constexpr uint64_t n = 100;
  constexpr int draws = 1'000'000;
  for (double s : {0.5, 0.99, 1.0, 1.5}) {
    key_chooser keys(n, s);
    std::mt19937_64 rng(7);
    std::vector<int> seen(n);
    for (int i = 0; i < draws; ++i) {
      auto k = keys(rng);
      REQUIRE(k < n);
      ++seen[k];
    }
    double norm = 0;
    for (uint64_t k = 1; k <= n; ++k)
      norm += std::pow(static_cast<double>(k), -s);
    // The ten hottest keys, each within 3% of its expected share (the
    // standard error at these counts is well under 1%).
    for (uint64_t k = 1; k <= 10; ++k) {
      double want = std::pow(static_cast<double>(k), -s) / norm * draws;
      INFO("s=" << s << " rank " << k << " want " << want << " got " << seen[k - 1]);
      CHECK(std::abs(seen[k - 1] - want) / want < 0.03);
    }
    // And the tail as a whole.
    double tail_want = 0;
    int tail_got = 0;
    for (uint64_t k = 51; k <= n; ++k) {
      tail_want += std::pow(static_cast<double>(k), -s) / norm * draws;
      tail_got += seen[k - 1];
    }
    CHECK(std::abs(tail_got - tail_want) / tail_want < 0.03);
  }
}

TEST_CASE("zipf: skew 0 is uniform, and one key is always key 0") {
  key_chooser uniform(10, 0);
  std::mt19937_64 rng(1);
  std::vector<int> seen(10);
  for (int i = 0; i < 100'000; ++i)
    ++seen[uniform(rng)];
  for (int c : seen)
    CHECK(std::abs(c - 10'000) < 500);
  key_chooser one(1, 0.99);
  for (int i = 0; i < 100; ++i)
    CHECK(one(rng) == 0);
}

TEST_CASE("zipf: a million keys cost no set-up and stay in range") {
  key_chooser keys(1'000'000, 0.99);
  std::mt19937_64 rng(3);
  uint64_t hottest = 0;
  for (int i = 0; i < 100'000; ++i) {
    auto k = keys(rng);
    REQUIRE(k < 1'000'000);
    hottest += k == 0;
  }
  // Rank 1 of 10^6 at s=0.99 has about 6.6% of the mass.
  CHECK(hottest > 5'000);
  CHECK(hottest < 8'500);
}
