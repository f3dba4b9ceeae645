// A log cut at every length and with every byte flipped: recovery ends at
// the last whole record or reports the damage; it never crashes or guesses.
#include "log/event_log.h"

#include "log/format.h"
#include "log/record_parser.h"
#include "log_helpers.h"
#include "temp_dir.h"

#include <catch2/catch.hpp>

#include <fstream>
#include <iterator>
#include <tuple>

using namespace sluice::log;
using namespace sluice::log::testing;
using sluice::testing::temp_dir;

namespace {

// Opening `dir` (256-byte segments) fails as corrupt, naming `what`.
void require_corrupt(const std::filesystem::path& dir, const std::string& what) {
  auto r = event_log::open({dir, durability::none, 256});
  REQUIRE_FALSE(r);
  CHECK(r.error().code == errc::corrupt);
  CHECK_THAT(r.error().message, Catch::Contains(what));
}

// A one-segment log of 9 records written as 6 group commits of 1,1,2,1,3,1.
struct small_log {
  std::string bytes;
  std::vector<owned_record> records;
  std::vector<size_t> starts; // file offset of each record; starts.back() + size = bytes.size()

  small_log() {
    temp_dir dir;
    {
      auto log = open_log(dir.path(), durability::fsync);
      uint64_t i = 0;
      for (int n : {1, 1, 2, 1, 3, 1}) {
        write_batch b;
        for (int j = 0; j < n; ++j, ++i)
          REQUIRE(b.add(view(sample(i))));
        REQUIRE(log->append_and_wait(std::move(b)));
      }
      records = read_all(*log);
    }
    bytes = slurp(dir.path() / segment_file_name(1));
    size_t end = 0;
    std::tie(starts, end) = record_starts(bytes);
    REQUIRE(starts.size() == 9);
    // Past the records: zeros the log may have written ahead (fsync mode).
    REQUIRE(bytes.find_first_not_of('\0', end) == std::string::npos);
    bytes.resize(end);
  }

  size_t whole_records_within(size_t length) const {
    size_t n = 0;
    for (size_t k = 0; k < starts.size(); ++k) {
      size_t end = k + 1 < starts.size() ? starts[k + 1] : bytes.size();
      if (end <= length)
        n = k + 1;
    }
    return n;
  }

  // Index of the record holding byte `i`, or -1 for the segment header.
  int record_at(size_t i) const {
    int k = -1;
    for (size_t j = 0; j < starts.size(); ++j)
      if (starts[j] <= i)
        k = static_cast<int>(j);
    return k;
  }
};

const small_log& fixture() {
  static const small_log log;
  return log;
}

} // namespace

TEST_CASE("a log cut at every length recovers exactly its whole records", "[log][hostile]") {
  auto& f = fixture();
  for (size_t len = 0; len <= f.bytes.size(); ++len) {
    temp_dir dir;
    spit(dir.path() / segment_file_name(1), std::string_view(f.bytes).substr(0, len));
    auto r = event_log::open({dir.path(), durability::none});
    INFO("cut at " << len);
    REQUIRE(r);
    auto& log = **r;
    size_t expected = f.whole_records_within(len);
    auto got = read_all(log);
    REQUIRE(got.size() == expected);
    for (size_t k = 0; k < expected; ++k)
      CHECK(got[k] == f.records[k]);
    // The log stays appendable right after the cut.
    write_batch b;
    REQUIRE(b.add(view(sample(100))));
    auto a = log.append_and_wait(std::move(b));
    REQUIRE(a);
    CHECK(a->first == expected + 1);
  }
}

TEST_CASE("a flipped byte is cut as a torn tail only in the last record, else reported", "[log][hostile]") {
  auto& f = fixture();
  for (size_t i = 0; i < f.bytes.size(); ++i) {
    for (uint8_t mask : {0x01, 0x80, 0xFF}) {
      temp_dir dir;
      auto damaged = f.bytes;
      damaged[i] = static_cast<char>(damaged[i] ^ mask);
      auto file = dir.path() / segment_file_name(1);
      spit(file, damaged);
      auto r = event_log::open({dir.path(), durability::none});
      int k = f.record_at(i);
      INFO("byte " << i << " mask " << int(mask) << " in record " << k);
      if (k == static_cast<int>(f.starts.size()) - 1) {
        REQUIRE(r);
        auto got = read_all(**r);
        REQUIRE(got.size() == f.starts.size() - 1);
        CHECK(got.back() == f.records[got.size() - 1]);
        CHECK((*r)->recovery().truncated_bytes == f.bytes.size() - f.starts.back());
      } else {
        REQUIRE_FALSE(r);
        CHECK(r.error().code == errc::corrupt);
        size_t offset = k < 0 ? 0 : f.starts[static_cast<size_t>(k)];
        CHECK_THAT(r.error().message,
                   Catch::Contains(file.string()) && Catch::Contains("at offset " + std::to_string(offset) + ":"));
      }
    }
  }
}

TEST_CASE("zeros after the last record are kept for appends; garbage is cut", "[log][hostile]") {
  auto& f = fixture();
  auto file = [](const temp_dir& d) { return d.path() / segment_file_name(1); };
  SECTION("zeros: room written ahead, appended over") {
    temp_dir dir;
    spit(file(dir), f.bytes + std::string(8192, '\0'));
    {
      auto log = open_log(dir.path());
      CHECK(read_all(*log).size() == 9);
      CHECK(log->recovery().truncated_bytes == 0);
      write_batch b;
      REQUIRE(b.add(view(sample(9))));
      auto a = log->append_and_wait(std::move(b));
      REQUIRE(a);
      CHECK(a->first == 10);
    }
    // The record went over the zeros, right after the others.
    CHECK(std::filesystem::file_size(file(dir)) == f.bytes.size() + 8192);
    auto log = open_log(dir.path());
    CHECK(log->recovery().truncated_bytes == 0);
    auto all = read_all(*log);
    REQUIRE(all.size() == 10);
    CHECK(all[8] == f.records[8]);
    CHECK(all[9].command_id == sample(9).command_id);
  }
  SECTION("anything else is a torn tail, cut") {
    for (std::string tail :
         {std::string("garbage that is not a record"), std::string(1, static_cast<char>(format::k_record_magic)),
          std::string(4096, '\0') + "x"}) {
      temp_dir dir;
      spit(file(dir), f.bytes + tail);
      auto log = open_log(dir.path());
      CHECK(read_all(*log).size() == 9);
      CHECK(log->recovery().truncated_bytes == tail.size());
      CHECK(std::filesystem::file_size(file(dir)) == f.bytes.size());
    }
  }
}

TEST_CASE("zeros end a sealed segment cleanly, but not in place of its records", "[log][hostile]") {
  temp_dir dir;
  write_small_segments(dir.path());
  auto first = dir.path() / segment_file_name(1);
  auto bytes = slurp(first);
  SECTION("after its records") {
    spit(first, bytes + std::string(4096, '\0'));
    auto log = open_log(dir.path(), durability::none, 256);
    CHECK(read_all(*log).size() == 30);
    CHECK(log->recovery().truncated_bytes == 0);
  }
  SECTION("instead of its last record") {
    auto [starts, end] = record_starts(bytes);
    REQUIRE(end == bytes.size());
    std::fill(bytes.begin() + static_cast<ptrdiff_t>(starts.back()), bytes.end(), '\0');
    spit(first, bytes);
    require_corrupt(dir.path(), "a segment is missing");
  }
}

TEST_CASE("damage in a sealed segment is reported even at its end", "[log][hostile]") {
  temp_dir dir;
  write_small_segments(dir.path());
  auto first = dir.path() / segment_file_name(1);
  auto bytes = slurp(first);
  bytes.back() = static_cast<char>(bytes.back() ^ 0x55);
  spit(first, bytes);
  require_corrupt(dir.path(), first.string());
}

TEST_CASE("a missing middle segment is reported, not skipped", "[log][hostile]") {
  temp_dir dir;
  write_small_segments(dir.path());
  std::vector<std::filesystem::path> files;
  for (auto& e : std::filesystem::directory_iterator(dir.path()))
    files.push_back(e.path());
  std::sort(files.begin(), files.end());
  REQUIRE(files.size() >= 3);
  std::filesystem::remove(files[1]);
  require_corrupt(dir.path(), "a segment is missing");
}

TEST_CASE("a last segment torn while being created is removed", "[log][hostile]") {
  temp_dir dir;
  uint64_t in_first = 0;
  {
    auto log = open_log(dir.path(), durability::none, 256);
    while (std::distance(std::filesystem::directory_iterator(dir.path()), {}) < 2) {
      write_batch b;
      REQUIRE(b.add(view(sample(in_first))));
      REQUIRE(log->append_and_wait(std::move(b)));
      ++in_first;
    }
    --in_first; // the record that went to the second segment
  }
  auto second = dir.path() / segment_file_name(in_first + 1);
  REQUIRE(std::filesystem::exists(second));
  std::filesystem::resize_file(second, 10);
  auto log = open_log(dir.path(), durability::none, 256);
  CHECK(read_all(*log).size() == in_first);
  CHECK_FALSE(std::filesystem::exists(second));
  write_batch b;
  REQUIRE(b.add(view(sample(0))));
  auto a = log->append_and_wait(std::move(b));
  REQUIRE(a);
  CHECK(a->first == in_first + 1);
}
