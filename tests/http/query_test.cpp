#include "http/query.h"

#include <catch2/catch.hpp>

using sluice::http::percent_decode;
using sluice::http::query;

TEST_CASE("percent-decoding takes %XX escapes and refuses broken ones", "[http][query]") {
  CHECK(percent_decode("%41b") == "Ab");
  CHECK(percent_decode("a%2fb%2F") == "a/b/");
  CHECK(percent_decode("") == "");
  CHECK_FALSE(percent_decode("%"));
  CHECK_FALSE(percent_decode("%4"));
  CHECK_FALSE(percent_decode("%zz"));
  CHECK_FALSE(percent_decode("ab%g1"));
  CHECK(percent_decode("%00", false) == std::string("\0", 1));
}

TEST_CASE("'+' is a space in a query string, itself in a path", "[http][query]") {
  CHECK(percent_decode("a+b") == "a+b");
  CHECK(percent_decode("a+b", true) == "a b");
  CHECK(percent_decode("a%2Bb", true) == "a+b");
}

TEST_CASE("a query string as URLSearchParams writes it", "[http][query]") {
  query q("after=a+b&limit=10&&flag&after=second&k%20x=v%26w");
  REQUIRE_FALSE(q.bad());
  CHECK(q.get("after") == "a b"); // the first of repeated names wins
  CHECK(q.get("flag") == "");
  CHECK(q.get("k x") == "v&w");
  CHECK_FALSE(q.get("missing"));
  CHECK(query("a=%zz").bad());
  CHECK(query("%=1").bad());
}

TEST_CASE("a numeric parameter is a decimal integer in its bounds", "[http][query]") {
  query q("limit=10&big=18446744073709551616&neg=-1&sp=1+&x=0x10");
  CHECK(q.number("limit", 5, 1, 100) == 10u);
  CHECK(q.number("absent", 5, 1, 100) == 5u);
  CHECK_FALSE(q.number("limit", 5, 11, 100));
  CHECK_FALSE(q.number("big", 0, 0, UINT64_MAX));
  CHECK_FALSE(q.number("neg", 0, 0, 100));
  CHECK_FALSE(q.number("sp", 0, 0, 100)); // "1 "
  CHECK_FALSE(q.number("x", 0, 0, 100));
}
