#include "base/flat_string_map.h"

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <functional>
#include <map>
#include <random>
#include <string>
#include <vector>

using sluice::flat_string_map;

namespace {
uint64_t hash(std::string_view s) { return std::hash<std::string_view>{}(s); }
} // namespace

TEST_CASE("flat_string_map finds what it holds, across growth, as a std::map would", "[base]") {
  flat_string_map<uint64_t> m;
  std::map<std::string, uint64_t> want;
  std::mt19937_64 rng(7);
  std::vector<uint64_t*> addresses;
  for (int i = 0; i < 50'000; ++i) {
    // Short ids and ones beyond the short-string buffer, some repeated.
    auto key = fmt::format("{}-{}", i % 3 ? "ORD-0123456789abcdef" : "A", rng() % 40'000);
    auto [v, made] = m.try_emplace(key, hash(key));
    CHECK(made == !want.contains(key));
    if (made) {
      CHECK(v == 0); // value-initialised
      addresses.push_back(&v);
    }
    v += 1;
    want[key] += 1;
  }
  CHECK(m.size() == want.size());
  for (auto& [k, n] : want) {
    auto* v = m.find(k, hash(k));
    REQUIRE(v);
    CHECK(*v == n);
  }
  CHECK(m.find("missing", hash("missing")) == nullptr);
  // Entries never move while the table grows.
  size_t i = 0;
  m.for_each([&](std::string_view k, uint64_t& v) {
    CHECK(&v == addresses[i++]);
    CHECK(v == want.at(std::string(k)));
  });
  CHECK(i == want.size());
}

TEST_CASE("flat_string_map tells apart keys whose hashes are equal", "[base]") {
  flat_string_map<int> m;
  for (int i = 0; i < 3000; ++i)
    m.try_emplace(fmt::format("k{}", i), 42).first = i; // every key the same hash
  for (int i = 0; i < 3000; ++i) {
    auto* v = m.find(fmt::format("k{}", i), 42);
    REQUIRE(v);
    CHECK(*v == i);
  }
  CHECK(m.find("k3000", 42) == nullptr);
  CHECK(m.find("k1", hash("k1")) == nullptr); // a key is found by the hash it was given
}

TEST_CASE("flat_string_map removes what a predicate picks and keeps the rest findable", "[base]") {
  flat_string_map<int> m;
  m.reserve(10'000);
  for (int i = 0; i < 10'000; ++i) {
    auto key = fmt::format("id-{}", i);
    m.try_emplace(key, hash(key)).first = i;
  }
  CHECK(m.remove_if([](std::string_view, int& v) { return v % 3 != 0; }) == 6666);
  CHECK(m.size() == 3334);
  for (int i = 0; i < 10'000; ++i) {
    auto key = fmt::format("id-{}", i);
    auto* v = m.find(key, hash(key));
    CHECK((v != nullptr) == (i % 3 == 0));
    if (v)
      CHECK(*v == i);
  }
  // Insertion order survives; new entries go after.
  int last = -1;
  m.for_each([&](std::string_view, int& v) {
    CHECK(v > last);
    last = v;
  });
  m.try_emplace("after", hash("after")).first = 123;
  CHECK(*m.find("after", hash("after")) == 123);
  CHECK(m.remove_if([](std::string_view, int&) { return true; }) == 3335);
  CHECK(m.size() == 0);
  CHECK(m.find("id-0", hash("id-0")) == nullptr);
  m.try_emplace("again", hash("again")).first = 1;
  CHECK(*m.find("again", hash("again")) == 1);
}
