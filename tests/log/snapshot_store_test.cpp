// The snapshot files (SPEC §9) against damage: a file cut at any length or
// with any byte flipped opens without a crash, every intact record before
// the damage is found, the damaged one is counted and never returned.
#include "log/snapshot_store.h"

#include "temp_dir.h"

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <fstream>
#include <iterator>
#include <vector>

using namespace sluice;
using sluice::testing::temp_dir;

namespace {

log::snapshot sample(int i) {
  return {0xfeed'0000u + static_cast<uint64_t>(i),
          static_cast<uint64_t>(10 * i + 1),
          static_cast<uint64_t>(100 + i),
          "account",
          fmt::format("ACC-{}", i),
          std::string(static_cast<size_t>(20 + i), static_cast<char>('a' + i))};
}

struct opened {
  std::unique_ptr<log::snapshot_store> store;
  std::vector<std::pair<log::snapshot, log::snapshot_ref>> found;
};

opened open(const std::filesystem::path& dir) {
  opened o;
  log::snapshot_store::options so;
  so.dir = dir;
  auto s = log::snapshot_store::open(
      so, [&](const log::snapshot& x, log::snapshot_ref ref) { o.found.emplace_back(x, ref); });
  REQUIRE(s);
  o.store = std::move(*s);
  return o;
}

std::string read_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

void write_file(const std::filesystem::path& p, std::string_view bytes) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// Writes `n` samples into `dir` and returns the file's bytes.
std::string make(const std::filesystem::path& dir, int n) {
  auto o = open(dir);
  for (int i = 0; i < n; ++i)
    REQUIRE(o.store->write(sample(i)));
  o.store->flush();
  CHECK(o.store->written() == static_cast<uint64_t>(n));
  return read_file(log::snapshot_store::file_name(dir, 1));
}

} // namespace

TEST_CASE("snapshots are written, found at the next open and read back", "[log][snapshots]") {
  temp_dir dir;
  make(dir.path(), 3);
  auto o = open(dir.path());
  REQUIRE(o.found.size() == 3);
  CHECK(o.store->rejected() == 0);
  for (int i = 0; i < 3; ++i) {
    auto& [head, ref] = o.found[static_cast<size_t>(i)];
    CHECK(head.id == sample(i).id);
    CHECK(head.version == sample(i).version);
    CHECK(head.body.empty()); // bodies are read on demand
    auto full = o.store->read(ref);
    REQUIRE(full);
    CHECK(full->body == sample(i).body);
    CHECK(full->fingerprint == sample(i).fingerprint);
    CHECK(full->position == sample(i).position);
    CHECK(full->type == "account");
  }
  // New records follow the old ones.
  REQUIRE(o.store->write(sample(3)));
  o.store->flush();
  o.store.reset();
  CHECK(open(dir.path()).found.size() == 4);
}

TEST_CASE("a snapshot file cut at any length keeps the whole records before the cut", "[log][snapshots]") {
  temp_dir src;
  auto bytes = make(src.path(), 3);
  std::vector<size_t> ends; // where each record ends
  {
    auto o = open(src.path());
    for (auto& [s, ref] : o.found)
      ends.push_back((ref & ((uint64_t{1} << 40) - 1)) + log::snapshot_store::k_header + s.type.size() + s.id.size() +
                     sample(static_cast<int>(ends.size())).body.size());
  }
  REQUIRE(ends.back() == bytes.size());
  for (size_t cut = 0; cut < bytes.size(); ++cut) {
    temp_dir dir;
    std::filesystem::create_directories(dir.path());
    write_file(log::snapshot_store::file_name(dir.path(), 1), std::string_view(bytes).substr(0, cut));
    auto o = open(dir.path());
    size_t whole = static_cast<size_t>(std::count_if(ends.begin(), ends.end(), [&](size_t e) { return e <= cut; }));
    INFO("cut at " << cut);
    REQUIRE(o.found.size() == whole);
    bool torn = cut > 0 && std::find(ends.begin(), ends.end(), cut) == ends.end();
    CHECK(o.store->rejected() == (torn ? 1u : 0u));
    // The torn tail is cut off: a record written now is found next time.
    REQUIRE(o.store->write(sample(7)));
    o.store->flush();
    o.store.reset();
    CHECK(open(dir.path()).found.size() == whole + 1);
  }
}

TEST_CASE("a flipped byte anywhere in a snapshot makes it refused, never misread", "[log][snapshots]") {
  temp_dir src;
  auto bytes = make(src.path(), 1);
  for (size_t at = 0; at < bytes.size(); ++at) {
    temp_dir dir;
    std::filesystem::create_directories(dir.path());
    auto damaged = bytes;
    damaged[at] = static_cast<char>(damaged[at] ^ 0x20);
    write_file(log::snapshot_store::file_name(dir.path(), 1), damaged);
    auto o = open(dir.path());
    INFO("byte " << at);
    CHECK(o.found.empty());
    CHECK(o.store->rejected() == 1);
  }
}

TEST_CASE("a damaged record in the middle costs only itself when its length is intact", "[log][snapshots]") {
  temp_dir dir;
  auto bytes = make(dir.path(), 3);
  auto first = open(dir.path());
  auto second_at = first.found[1].second & ((uint64_t{1} << 40) - 1);
  first.store.reset();
  bytes[second_at + log::snapshot_store::k_header + 2] ^= 1; // in the second record's type name
  write_file(log::snapshot_store::file_name(dir.path(), 1), bytes);
  auto o = open(dir.path());
  REQUIRE(o.found.size() == 2);
  CHECK(o.found[0].first.id == "ACC-0");
  CHECK(o.found[1].first.id == "ACC-2");
  CHECK(o.store->rejected() == 1);
}

TEST_CASE("a snapshot read after its file was damaged is refused", "[log][snapshots]") {
  temp_dir dir;
  make(dir.path(), 1);
  auto o = open(dir.path());
  REQUIRE(o.found.size() == 1);
  // Damage it under the open store, as a disk might.
  {
    std::fstream f(log::snapshot_store::file_name(dir.path(), 1), std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(log::snapshot_store::k_header + 10));
    f.put('#');
  }
  auto r = o.store->read(o.found[0].second);
  REQUIRE_FALSE(r);
  CHECK(r.error() == "checksum mismatch");
  CHECK_FALSE(o.store->read(12345)); // no such file
}
