#include "base/short_string.h"

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <string>
#include <unordered_set>
#include <utility>

using sluice::short_string;

TEST_CASE("short_string keeps its bytes inline up to 40 and on the heap beyond", "[base]") {
  for (size_t n : {size_t{0}, size_t{1}, size_t{15}, size_t{16}, short_string::k_inline, short_string::k_inline + 1,
                   size_t{256}}) {
    std::string s(n, 'x');
    for (size_t i = 0; i < n; ++i)
      s[i] = static_cast<char>('a' + i % 26);
    short_string a(s);
    CHECK(a.size() == n);
    CHECK(a.empty() == (n == 0));
    CHECK(a == s);
    // The inline buffer lives inside the object; a longer string does not.
    bool inside = a.data() >= reinterpret_cast<const char*>(&a) && a.data() < reinterpret_cast<const char*>(&a + 1);
    CHECK(inside == (n <= short_string::k_inline));

    short_string copy(a);
    CHECK(copy == s);
    CHECK((n == 0 || copy.data() != a.data()));
    short_string moved(std::move(copy));
    CHECK(moved == s);
    CHECK(copy.empty()); // NOLINT(bugprone-use-after-move): a moved-from string is left empty

    short_string assigned("short");
    assigned = a;
    CHECK(assigned == s);
    assigned = short_string("again");
    CHECK(assigned == "again");
    assigned = std::move(moved);
    CHECK(assigned == s);
    CHECK(fmt::format("[{}]", assigned) == "[" + s + "]");
  }
}

TEST_CASE("short_string compares, orders and hashes by its bytes", "[base]") {
  short_string a("ACC-1"), b("ACC-2"), longer(std::string(50, 'z'));
  CHECK(a == std::string_view("ACC-1"));
  CHECK_FALSE(a == b);
  CHECK(a < b);
  CHECK(b < longer);
  CHECK(a == short_string(std::string("ACC-1")));
  std::unordered_set<short_string> set{a, b, longer};
  CHECK(set.count(short_string("ACC-2")) == 1);
  CHECK(set.count(short_string(std::string(50, 'z'))) == 1);
  CHECK(set.count(short_string("ACC-3")) == 0);
}
