#include "codec/timestamp.h"

#include <catch2/catch.hpp>

using namespace sluice::codec;

namespace {
std::string ts(int64_t us) {
  std::string s;
  append_timestamp(s, us);
  return s;
}
} // namespace

TEST_CASE("timestamps render as RFC 3339 UTC with milliseconds", "[codec]") {
  CHECK(ts(0) == "1970-01-01T00:00:00.000Z");
  CHECK(ts(1'795'600'800'123'456) == "2026-11-25T10:00:00.123Z");
  CHECK(ts(951'782'400'000'000) == "2000-02-29T00:00:00.000Z"); // leap day
  CHECK(ts(-1'000) == "1969-12-31T23:59:59.999Z");
}
