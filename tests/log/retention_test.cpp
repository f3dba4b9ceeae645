// The log's side of retention (SPEC §9): whole closed segments are deleted,
// never the one being written; reads start at the first retained position;
// the "retained" marker makes a crash part way harmless; check agrees.
#include "log/check.h"
#include "log_helpers.h"
#include "temp_dir.h"

#include <catch2/catch.hpp>

using namespace sluice;
using namespace sluice::log;
using namespace sluice::log::testing;
using sluice::testing::temp_dir;

namespace {

write_batch batch_of(uint64_t first, size_t n) {
  write_batch b;
  for (size_t i = 0; i < n; ++i) {
    auto r = sample(first + i);
    REQUIRE(b.add(view(r)));
  }
  return b;
}

std::vector<std::filesystem::path> segment_files(const std::filesystem::path& dir) {
  std::vector<std::filesystem::path> out;
  for (auto& e : std::filesystem::directory_iterator(dir))
    if (parse_segment_file_name(e.path().filename().string()))
      out.push_back(e.path());
  std::sort(out.begin(), out.end());
  return out;
}

} // namespace

TEST_CASE("deleting segments before a base keeps the rest readable, across a reopen", "[log][retention]") {
  temp_dir dir;
  uint64_t cut = 0;
  {
    auto log = open_log(dir.path(), durability::none, 2048);
    for (uint64_t i = 0; i < 300; i += 3)
      REQUIRE(log->append_and_wait(batch_of(i, 3)));
    auto segs = log->segments();
    REQUIRE(segs.size() > 4);
    CHECK(segs.front().base == 1);
    CHECK(segs.back().last_position == 300);
    cut = segs[3].base;

    // Not a segment's start: nothing happens.
    CHECK(*log->delete_before(cut + 1) == 0);
    CHECK(*log->delete_before(segs.back().last_position + 1) == 0);
    CHECK(log->first_position() == 1);

    auto deleted = log->delete_before(cut);
    REQUIRE(deleted);
    CHECK(*deleted > 0);
    CHECK(log->first_position() == cut);
    CHECK(log->segments().front().base == cut);

    // A read from before the first retained position starts at it.
    std::vector<uint64_t> got;
    REQUIRE(log->read(1, 3, [&](const record& r) {
      got.push_back(r.position);
      return true;
    }));
    CHECK(got == std::vector<uint64_t>{cut, cut + 1, cut + 2});
    REQUIRE(log->append_and_wait(batch_of(300, 3)));
  }
  auto log = open_log(dir.path(), durability::none, 2048);
  CHECK(log->first_position() == cut);
  CHECK(log->last_position() == 303);
  auto all = read_all(*log);
  REQUIRE(all.size() == 303 - cut + 1);
  CHECK(all.front().position == cut);
  auto report = log::check(dir.path());
  REQUIRE(report);
  CHECK(report->damaged.empty());
  CHECK(report->last_position == 303);
}

TEST_CASE("segments a crash left below the retained position are removed at open", "[log][retention][crash]") {
  temp_dir dir;
  uint64_t cut = 0;
  std::vector<std::filesystem::path> before;
  {
    auto log = open_log(dir.path(), durability::none, 2048);
    for (uint64_t i = 0; i < 300; i += 3)
      REQUIRE(log->append_and_wait(batch_of(i, 3)));
    before = segment_files(dir.path());
    cut = log->segments()[2].base;
  }
  // The marker was made durable and then the process died before unlinking.
  spit(dir.path() / "retained", fmt::format("{}\n", cut));
  CHECK(log::retained_from(dir.path()) == cut);
  auto report = log::check(dir.path());
  REQUIRE(report);
  CHECK(report->damaged.empty()); // check ignores what the next open removes
  auto log = open_log(dir.path(), durability::none, 2048);
  CHECK(log->first_position() == cut);
  CHECK(segment_files(dir.path()).size() == before.size() - 2);
  CHECK(read_all(*log).front().position == cut);
}

TEST_CASE("without the marker a missing first segment is damage, not retention", "[log][retention][hostile]") {
  temp_dir dir;
  {
    auto log = open_log(dir.path(), durability::none, 2048);
    for (uint64_t i = 0; i < 300; i += 3)
      REQUIRE(log->append_and_wait(batch_of(i, 3)));
  }
  std::filesystem::remove(segment_files(dir.path()).front());
  auto r = event_log::open({dir.path(), durability::none, 2048});
  REQUIRE_FALSE(r);
  CHECK(r.error().code == errc::corrupt);
  CHECK(r.error().message.find("a segment is missing") != std::string::npos);
}
