// The store conformance suite (store_conformance.h) against the local log.
#include "log/store.h"

#include "log/event_log.h"
#include "store_conformance.h"
#include "temp_dir.h"

#include <catch2/catch.hpp>

using namespace sluice::log;
using namespace sluice::log::testing;
using sluice::testing::temp_dir;

namespace {

store_factory local_log(durability mode) {
  return {[mode](const std::filesystem::path& dir, bool small_units) -> std::unique_ptr<store> {
    options o;
    o.dir = dir;
    o.mode = mode;
    o.segment_bytes = small_units ? 4096 : 64ull << 20;
    auto r = event_log::open(o);
    INFO((r ? "" : r.error().message));
    REQUIRE(r);
    return std::move(*r);
  }};
}

} // namespace

TEST_CASE("the local log keeps the store's contract", "[log][store]") {
  auto mode = GENERATE(durability::fsync, durability::none);
  INFO((mode == durability::fsync ? "fsync" : "none"));
  auto f = local_log(mode);
  temp_dir dir;
  SECTION("positions") { conformance_positions(*f.open(dir.path(), false)); }
  SECTION("reads") { conformance_reads(*f.open(dir.path(), false)); }
  SECTION("completions") { conformance_completions(*f.open(dir.path(), false)); }
  SECTION("concurrency") { conformance_concurrency(*f.open(dir.path(), true)); }
  SECTION("reopen") { conformance_reopen(f, dir.path()); }
  SECTION("close") { conformance_close(*f.open(dir.path(), false)); }
  SECTION("retention") { conformance_retention(*f.open(dir.path(), true)); }
}
