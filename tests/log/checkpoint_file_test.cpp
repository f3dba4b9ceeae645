// Checkpoint files (SPEC §9): what is written reads back; anything else —
// cut at any length, any byte flipped, another name — is refused with a
// reason; a crash's partial file is removed; the writer keeps the newest.
#include "log/checkpoint_file.h"

#include "temp_dir.h"

#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <fstream>
#include <future>
#include <thread>

using namespace sluice;
using sluice::testing::temp_dir;

namespace {

log::checkpoint sample(uint64_t position = 1234) {
  return {"view.order_summary", 3, 1, 4, 0xfeed'beef'cafe'f00dULL, position, std::string("body \0 bytes", 12)};
}

void write_file(const std::filesystem::path& p, std::string_view bytes) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

} // namespace

TEST_CASE("a checkpoint reads back field for field", "[log][checkpoint]") {
  temp_dir dir;
  auto c = sample();
  REQUIRE(log::write_checkpoint(dir.path(), c));
  bool found = false;
  auto r = log::read_checkpoint(dir.path(), c.name, c.version, c.shard, c.shards, found);
  REQUIRE(found);
  REQUIRE(r);
  CHECK(r->name == c.name);
  CHECK(r->version == 3);
  CHECK(r->shard == 1);
  CHECK(r->shards == 4);
  CHECK(r->fingerprint == c.fingerprint);
  CHECK(r->position == 1234);
  CHECK(r->body == c.body);
  CHECK(std::filesystem::file_size(log::checkpoint_path(dir.path(), c.name, 3, 1, 4)) ==
        log::k_checkpoint_header + c.name.size() + c.body.size());

  // Another version or shard count is another file: not there.
  auto other = log::read_checkpoint(dir.path(), c.name, 4, 1, 4, found);
  CHECK_FALSE(found);
  other = log::read_checkpoint(dir.path(), c.name, 3, 1, 8, found);
  CHECK_FALSE(found);
}

TEST_CASE("a checkpoint cut at any length or with any byte flipped is refused", "[log][checkpoint][hostile]") {
  auto bytes = log::encode_checkpoint(sample());
  REQUIRE(log::decode_checkpoint(bytes));
  for (size_t n = 0; n < bytes.size(); ++n) {
    INFO("cut at " << n);
    CHECK_FALSE(log::decode_checkpoint(std::string_view(bytes).substr(0, n)));
  }
  for (size_t i = 0; i < bytes.size(); ++i) {
    INFO("byte " << i);
    auto damaged = bytes;
    damaged[i] = static_cast<char>(damaged[i] ^ 0x40);
    auto r = log::decode_checkpoint(damaged);
    CHECK_FALSE(r);
  }
  auto longer = bytes + "x";
  CHECK_FALSE(log::decode_checkpoint(longer));
}

TEST_CASE("a damaged checkpoint file is found and refused with its path", "[log][checkpoint][hostile]") {
  temp_dir dir;
  auto c = sample();
  REQUIRE(log::write_checkpoint(dir.path(), c));
  auto path = log::checkpoint_path(dir.path(), c.name, c.version, c.shard, c.shards);
  auto bytes = log::encode_checkpoint(c);
  bytes[bytes.size() - 1] ^= 1;
  write_file(path, bytes);
  bool found = false;
  auto r = log::read_checkpoint(dir.path(), c.name, c.version, c.shard, c.shards, found);
  CHECK(found);
  REQUIRE_FALSE(r);
  CHECK(r.error().find(path.filename().string()) != std::string::npos);
  CHECK(r.error().find("checksum") != std::string::npos);

  // Intact bytes under another file's name: refused, not taken for that file.
  auto renamed = log::checkpoint_path(dir.path(), "view.other", c.version, c.shard, c.shards);
  write_file(renamed, log::encode_checkpoint(c));
  r = log::read_checkpoint(dir.path(), "view.other", c.version, c.shard, c.shards, found);
  CHECK(found);
  CHECK_FALSE(r);
}

TEST_CASE("a partial file a crash left is removed and the last whole checkpoint stays", "[log][checkpoint][crash]") {
  temp_dir dir;
  auto c = sample(10);
  REQUIRE(log::write_checkpoint(dir.path(), c));
  auto path = log::checkpoint_path(dir.path(), c.name, c.version, c.shard, c.shards);
  auto partial = path;
  partial += ".partial";
  write_file(partial, log::encode_checkpoint(sample(20)).substr(0, 30)); // the crash came mid-write
  CHECK(log::remove_partial_checkpoints(dir.path()) == 1);
  CHECK_FALSE(std::filesystem::exists(partial));
  bool found = false;
  auto r = log::read_checkpoint(dir.path(), c.name, c.version, c.shard, c.shards, found);
  REQUIRE(r);
  CHECK(r->position == 10);
}

TEST_CASE("the checkpoint writer writes the newest of each file and flushes", "[log][checkpoint]") {
  temp_dir dir;
  {
    log::checkpoint_writer w(dir.path());
    for (uint64_t p = 1; p <= 50; ++p) {
      auto c = sample(p);
      c.shard = static_cast<uint32_t>(p % 2);
      w.write(std::move(c));
    }
    w.flush();
    CHECK_FALSE(w.busy("view.order_summary", 0));
    CHECK(w.written() >= 2);
    CHECK(w.written() <= 50);
    CHECK(w.failed() == 0);
  }
  bool found = false;
  for (uint32_t shard : {0u, 1u}) {
    auto r = log::read_checkpoint(dir.path(), "view.order_summary", 3, shard, 4, found);
    REQUIRE(r);
    CHECK(r->position == (shard == 0 ? 50u : 49u));
  }
}

TEST_CASE("a flush returns while checkpoints keep coming, with what was queued before it written",
          "[log][checkpoint]") {
  temp_dir dir;
  log::checkpoint_writer w(dir.path());
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> queued{0};
  std::thread producer([&] { // like shards that checkpoint all the time under load
    for (uint64_t p = 1; !stop.load(); ++p) {
      for (uint32_t shard = 0; shard < 4; ++shard) {
        auto c = sample(p);
        c.shard = shard;
        w.write(std::move(c));
      }
      queued.store(p);
    }
  });
  while (queued.load() < 100)
    std::this_thread::yield();
  uint64_t before = queued.load();
  auto flushed = std::async(std::launch::async, [&] { w.flush(); });
  bool returned = flushed.wait_for(std::chrono::seconds(30)) == std::future_status::ready;
  stop.store(true); // also lets a flush that waits for an empty queue return
  producer.join();
  flushed.wait();
  REQUIRE(returned);
  bool found = false;
  for (uint32_t shard = 0; shard < 4; ++shard) {
    INFO("shard " << shard);
    auto r = log::read_checkpoint(dir.path(), "view.order_summary", 3, shard, 4, found);
    REQUIRE(r);
    CHECK(r->position >= before);
  }
}

TEST_CASE("a file checkpointed all the time does not starve the others: a flush returns", "[log][checkpoint]") {
  // Shard 0 is queued again as soon as it is taken (a busy shard under
  // load); shards 1 to 3 once, before the flush. Written smallest key
  // first, shard 0 would be written forever and the flush never return.
  // On the disk the tests run from, where a write's fdatasync takes long
  // enough for shard 0 to be queued again (/tmp may be tmpfs).
  temp_dir dir(std::filesystem::current_path());
  log::checkpoint_writer w(dir.path());
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> queued{0};
  for (uint32_t shard = 1; shard < 4; ++shard) {
    auto c = sample(1);
    c.shard = shard;
    w.write(std::move(c));
  }
  std::thread producer([&] {
    for (uint64_t p = 2; !stop.load(); ++p) {
      auto c = sample(p);
      c.shard = 0;
      w.write(std::move(c));
      queued.store(p);
    }
  });
  while (queued.load() < 100)
    std::this_thread::yield();
  auto flushed = std::async(std::launch::async, [&] { w.flush(); });
  bool returned = flushed.wait_for(std::chrono::seconds(30)) == std::future_status::ready;
  stop.store(true);
  producer.join();
  flushed.wait();
  REQUIRE(returned);
  bool found = false;
  for (uint32_t shard = 1; shard < 4; ++shard) {
    auto r = log::read_checkpoint(dir.path(), "view.order_summary", 3, shard, 4, found);
    REQUIRE(r);
    CHECK(r->position == 1);
  }
}
