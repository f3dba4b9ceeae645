#include "codec/money.h"

#include <catch2/catch.hpp>

#include <cmath>
#include <limits>

using namespace sluice::codec;

TEST_CASE("money with at most two fraction digits is held exactly in cents", "[codec]") {
  CHECK(money_from_double(999.99) == 99999);
  CHECK(money_from_double(0.1) == 10);
  CHECK(money_from_double(0.07) == 7);
  CHECK(money_from_double(1059.97) == 105997);
  CHECK(money_from_double(-2.5) == -250);
  CHECK(money_from_double(0.0) == 0);
  CHECK(money_from_double(9999999999999.99) == k_max_money_cents);
  // Every cent value in a range converts back exactly.
  for (int64_t c = 0; c < 200000; c += 7)
    CHECK(money_from_double(static_cast<double>(c) / 100.0) == c);
}

TEST_CASE("money with three decimals, too large or not finite is refused", "[codec]") {
  CHECK_FALSE(money_from_double(1.005));
  CHECK_FALSE(money_from_double(0.001));
  CHECK_FALSE(money_from_double(10.999));
  CHECK_FALSE(money_from_double(1e14));
  CHECK_FALSE(money_from_double(-1e14));
  CHECK_FALSE(money_from_double(std::numeric_limits<double>::quiet_NaN()));
  CHECK_FALSE(money_from_double(std::numeric_limits<double>::infinity()));
}

TEST_CASE("money renders with two decimals", "[codec]") {
  auto render = [](int64_t c) {
    std::string s;
    append_money(s, c);
    return s;
  };
  CHECK(render(105997) == "1059.97");
  CHECK(render(5) == "0.05");
  CHECK(render(0) == "0.00");
  CHECK(render(-50) == "-0.50");
  CHECK(render(100) == "1.00");
  CHECK(render(std::numeric_limits<int64_t>::min()) == "-92233720368547758.08");
}
