// Durations and sizes in flags (SPEC §9).
#include "base/units.h"

#include <catch2/catch.hpp>

using namespace sluice;
using namespace std::chrono_literals;

TEST_CASE("durations are seconds or carry a unit", "[base][units]") {
  CHECK(*parse_duration("60") == 60s);
  CHECK(*parse_duration("90s") == 90s);
  CHECK(*parse_duration("15m") == 15min);
  CHECK(*parse_duration("12h") == 12h);
  CHECK(*parse_duration("30d") == 30 * 24h);
  CHECK(*parse_duration("250ms") == 250ms);
  CHECK(*parse_duration("0") == 0ms);
  for (auto bad : {"", "s", "-5", "5x", "1.5h", "5 s", "99999999999999999999"})
    CHECK_FALSE(parse_duration(bad));
}

TEST_CASE("sizes are bytes or carry a unit", "[base][units]") {
  CHECK(*parse_size("1000") == 1000);
  CHECK(*parse_size("512MiB") == 512ull << 20);
  CHECK(*parse_size("20GiB") == 20ull << 30);
  CHECK(*parse_size("3KB") == 3000);
  // The units people write in configuration files (docs/operations.md's "500G").
  CHECK(*parse_size("500G") == 500ull << 30);
  CHECK(*parse_size("64M") == 64ull << 20);
  CHECK(*parse_size("8K") == 8ull << 10);
  CHECK(*parse_size("2T") == 2ull << 40);
  CHECK(*parse_size("5GB") == 5'000'000'000ull);
  CHECK(parse_size("5g").error().find("powers of 1024") != std::string::npos);
  for (auto bad : {"", "MiB", "5mib", "-1", "20000000TiB"})
    CHECK_FALSE(parse_size(bad));
}
