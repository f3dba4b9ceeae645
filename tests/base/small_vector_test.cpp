#include "base/small_vector.h"

#include <catch2/catch.hpp>

#include <random>
#include <vector>

using sluice::small_vector;

namespace {
template <class V>
std::vector<uint64_t> copy_of(const V& v) {
  return {v.begin(), v.end()};
}
} // namespace

TEST_CASE("small_vector holds what a std::vector would, inline and on the heap", "[base]") {
  std::mt19937_64 rng(GENERATE(1u, 2u, 3u));
  small_vector<uint64_t, 3> v;
  std::vector<uint64_t> want;
  for (int step = 0; step < 2000; ++step) {
    switch (rng() % 10) {
      case 0: {
        auto n = static_cast<uint32_t>(rng() % (want.size() + 2));
        v.erase_front(n);
        want.erase(want.begin(), want.begin() + static_cast<ptrdiff_t>(std::min<size_t>(n, want.size())));
        break;
      }
      case 1: {
        auto n = static_cast<uint32_t>(rng() % 9);
        v.resize(n);
        want.resize(n);
        break;
      }
      case 2: {
        small_vector<uint64_t, 3> moved(std::move(v));
        CHECK(v.empty()); // NOLINT(bugprone-use-after-move): a moved-from vector is empty
        v = moved;        // copy back
        CHECK(copy_of(moved) == want);
        break;
      }
      case 3:
        if (rng() % 20 == 0) {
          v.clear();
          want.clear();
        }
        break;
      default: {
        uint64_t x = rng();
        v.push_back(x);
        want.push_back(x);
      }
    }
    REQUIRE(v.size() == want.size());
    REQUIRE(copy_of(v) == want);
  }
  std::span<const uint64_t> s = v;
  CHECK(s.size() == want.size());
}

TEST_CASE("small_vector keeps its first values inline", "[base]") {
  small_vector<uint64_t, 3> v;
  v.push_back(1);
  v.push_back(2);
  v.push_back(3);
  auto inside = [&] {
    auto* p = reinterpret_cast<const char*>(v.data());
    auto* self = reinterpret_cast<const char*>(&v);
    return p >= self && p < self + sizeof v;
  };
  CHECK(inside());
  v.push_back(4);
  CHECK_FALSE(inside());
  CHECK(copy_of(v) == std::vector<uint64_t>{1, 2, 3, 4});
  v.erase_front(3);
  CHECK(copy_of(v) == std::vector<uint64_t>{4});
  CHECK(sizeof v == 32);
}
