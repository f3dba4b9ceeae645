#include "log/check.h"

#include "log_helpers.h"
#include "temp_dir.h"

#include <catch2/catch.hpp>

using namespace sluice::log;
using namespace sluice::log::testing;
using sluice::testing::temp_dir;

namespace {

std::vector<std::filesystem::path> segment_files(const std::filesystem::path& dir) {
  std::vector<std::filesystem::path> out;
  for (auto& e : std::filesystem::directory_iterator(dir))
    if (e.path().extension() == ".log")
      out.push_back(e.path());
  std::sort(out.begin(), out.end());
  return out;
}

// Flips a byte inside the first record of `file`.
void damage_first_record(const std::filesystem::path& file) {
  auto bytes = slurp(file);
  bytes[format::k_segment_header_size + format::k_record_header_size + 2] ^= 0x40;
  spit(file, bytes);
}

} // namespace

TEST_CASE("check finds nothing in a clean log", "[log][check]") {
  temp_dir dir;
  write_small_segments(dir.path());
  auto r = check(dir.path());
  REQUIRE(r);
  CHECK(r->damaged.empty());
  CHECK(r->records == 30);
  CHECK(r->last_position == 30);
  CHECK(r->segments > 3);
  auto fixed = repair(dir.path(), dir.path() / "backup");
  REQUIRE(fixed);
  CHECK(fixed->events_cut == 0);
  CHECK_FALSE(std::filesystem::exists(dir.path() / "backup"));
}

TEST_CASE("check reports damage before the tail; repair cuts there and keeps what it cut", "[log][check]") {
  temp_dir dir;
  write_small_segments(dir.path());
  auto files = segment_files(dir.path());
  REQUIRE(files.size() > 3);
  damage_first_record(files[1]);
  // The damage stops start-up …
  REQUIRE_FALSE(event_log::open({dir.path(), durability::none, 256}));
  auto r = check(dir.path());
  REQUIRE(r);
  REQUIRE(r->damaged.size() == 1);
  CHECK(r->damaged[0].file == files[1]);
  CHECK(r->damaged[0].offset == format::k_segment_header_size);
  CHECK_FALSE(r->torn_tail);
  uint64_t kept = r->records;
  CHECK(kept == parse_segment_file_name(files[1].filename().string()).value() - 1);
  CHECK(r->records_after_damage == 30 - kept - 1);
  // … repair cuts at it, saving the cut segment's bytes and the later files.
  auto fixed = repair(dir.path(), dir.path() / "backup");
  REQUIRE(fixed);
  CHECK(fixed->events_cut == 30 - kept - 1);
  CHECK(std::filesystem::exists(dir.path() / "backup" / files[2].filename()));
  CHECK(std::filesystem::exists(dir.path() / "backup" / (files[1].filename().string() + ".from-32")));
  CHECK(segment_files(dir.path()).size() == 2);
  auto log = open_log(dir.path(), durability::none, 256);
  CHECK(read_all(*log).size() == kept);
  // And the log takes appends after the cut.
  write_batch b;
  REQUIRE(b.add(view(sample(99))));
  auto appended = log->append_and_wait(std::move(b));
  REQUIRE(appended);
  CHECK(appended->first == kept + 1);
}

TEST_CASE("check reports each damaged record, resuming after each", "[log][check]") {
  temp_dir dir;
  write_small_segments(dir.path());
  auto files = segment_files(dir.path());
  damage_first_record(files[1]);
  damage_first_record(files[3]);
  auto r = check(dir.path());
  REQUIRE(r);
  REQUIRE(r->damaged.size() == 2);
  CHECK(r->damaged[0].file == files[1]);
  CHECK(r->damaged[1].file == files[3]);
}

TEST_CASE("a torn tail is reported as one the server cuts itself", "[log][check]") {
  temp_dir dir;
  write_small_segments(dir.path());
  auto last = segment_files(dir.path()).back();
  auto bytes = slurp(last);
  spit(last, bytes.substr(0, bytes.size() - 3));
  auto r = check(dir.path());
  REQUIRE(r);
  REQUIRE(r->damaged.size() == 1);
  CHECK(r->torn_tail);
  CHECK(r->records == 29);
}
