#include "log/event_log.h"

#include "log_helpers.h"
#include "small_tmpfs.h"
#include "temp_dir.h"

#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <fstream>
#include <iterator>
#include <set>
#include <stdexcept>
#include <thread>

using namespace sluice::log;
using namespace sluice::log::testing;
using sluice::testing::temp_dir;

namespace {

write_batch batch_of(uint64_t from, uint64_t count) {
  write_batch b;
  for (uint64_t i = from; i < from + count; ++i) {
    auto r = sample(i);
    if (!b.add(view(r))) // no REQUIRE: this runs on test threads too
      throw std::logic_error("sample record too large");
  }
  return b;
}

} // namespace

TEST_CASE("an empty directory opens as an empty log", "[log]") {
  temp_dir dir;
  auto log = open_log(dir.path() / "log");
  CHECK(log->last_position() == 0);
  CHECK(log->recovery().records == 0);
  CHECK(read_all(*log).empty());
}

TEST_CASE("appends get consecutive positions and read back byte for byte", "[log]") {
  temp_dir dir;
  auto mode = GENERATE(durability::fsync, durability::none);
  auto log = open_log(dir.path(), mode);
  auto a = log->append_and_wait(batch_of(0, 3));
  REQUIRE(a);
  CHECK(a->first == 1);
  CHECK(a->last == 3);
  auto b = log->append_and_wait(batch_of(3, 2));
  REQUIRE(b);
  CHECK(b->first == 4);
  CHECK(b->last == 5);
  auto empty = log->append_and_wait(write_batch{});
  REQUIRE(empty);
  CHECK(empty->first == 6);
  CHECK(empty->last == 5);

  auto all = read_all(*log);
  REQUIRE(all.size() == 5);
  for (uint64_t i = 0; i < 5; ++i) {
    auto expected = sample(i);
    expected.position = i + 1;
    CHECK(all[i] == expected);
  }
  CHECK(log->last_position() == 5);
  if (mode == durability::fsync)
    CHECK(log->syncs() == 2);
  else
    CHECK(log->syncs() == 0);
  // One duration per sync, each well under the histogram's last bound.
  auto d = log->sync_durations().read();
  CHECK(d.count == log->syncs());
  CHECK(d.buckets.back() == 0);
  CHECK((d.count == 0 || d.sum_ns > 0));
}

TEST_CASE("a reopened log continues where it ended", "[log]") {
  temp_dir dir;
  {
    auto log = open_log(dir.path());
    REQUIRE(log->append_and_wait(batch_of(0, 10)));
  }
  auto log = open_log(dir.path());
  CHECK(log->recovery().records == 10);
  CHECK(log->recovery().truncated_bytes == 0);
  auto r = log->append_and_wait(batch_of(10, 1));
  REQUIRE(r);
  CHECK(r->first == 11);
  CHECK(read_all(*log).size() == 11);
}

TEST_CASE("segments roll over at the size limit and positions continue across them", "[log]") {
  temp_dir dir;
  auto mode = GENERATE(durability::fsync, durability::none);
  {
    auto log = open_log(dir.path(), mode, 4096);
    for (uint64_t i = 0; i < 200; i += 4)
      REQUIRE(log->append_and_wait(batch_of(i, 4)));
  }
  size_t files = std::distance(std::filesystem::directory_iterator(dir.path()), {});
  CHECK(files > 3);
  auto log = open_log(dir.path(), mode, 4096);
  CHECK(log->recovery().segments == files);
  CHECK(log->recovery().truncated_bytes == 0);
  auto all = read_all(*log);
  REQUIRE(all.size() == 200);
  for (uint64_t i = 0; i < 200; ++i)
    CHECK(all[i].position == i + 1);

  // Reading from any position starts exactly there, whatever segment holds it.
  for (uint64_t from : {1, 2, 37, 100, 199, 200}) {
    std::vector<uint64_t> got;
    auto next = log->read(from, 5, [&](const record& r) {
      got.push_back(r.position);
      return true;
    });
    REQUIRE(next);
    REQUIRE_FALSE(got.empty());
    CHECK(got.front() == from);
    CHECK(*next == got.back() + 1);
    CHECK(got.size() == std::min<uint64_t>(5, 201 - from));
  }
  std::vector<uint64_t> none;
  auto past = log->read(201, 10, [&](const record& r) {
    none.push_back(r.position);
    return true;
  });
  CHECK(none.empty());
  CHECK(*past == 201);
}

TEST_CASE("reading from a position in a large log does not scan from the start", "[log]") {
  temp_dir dir;
  auto log = open_log(dir.path());
  for (uint64_t i = 0; i < 20000; i += 1000)
    REQUIRE(log->append_and_wait(batch_of(i, 1000)));
  // Bytes the process read(2)/pread(2) so far (/proc/self/io's rchar): a
  // scan from the start would read the whole segment.
  auto bytes_read = [] {
    std::ifstream io("/proc/self/io");
    std::string key;
    uint64_t value = 0;
    while (io >> key >> value)
      if (key == "rchar:")
        return value;
    FAIL("no rchar in /proc/self/io");
    return value;
  };
  auto segment_bytes = std::filesystem::file_size(dir.path() / segment_file_name(1));
  int visited = 0;
  auto before = bytes_read();
  auto next = log->read(15000, 1, [&](const record& r) {
    ++visited;
    CHECK(r.position == 15000);
    CHECK(r.aggregate_id == sample(14999).aggregate_id);
    return true;
  });
  auto read = bytes_read() - before;
  INFO("read " << read << " bytes of a " << segment_bytes << "-byte segment");
  // The index's step is 64 KiB and reads start at 64 KiB and double: at
  // most two reads, against a segment several times larger.
  REQUIRE(segment_bytes > 4 * (256u << 10));
  CHECK(read <= (256u << 10));
  CHECK(visited == 1);
  CHECK(*next == 15001);
}

TEST_CASE("a visitor that returns false stops the read", "[log]") {
  temp_dir dir;
  auto log = open_log(dir.path());
  REQUIRE(log->append_and_wait(batch_of(0, 10)));
  int n = 0;
  auto next = log->read(1, 100, [&](const record&) { return ++n < 3; });
  CHECK(n == 3);
  CHECK(*next == 4);
}

TEST_CASE("concurrent appenders share group commits and every batch is intact", "[log]") {
  temp_dir dir;
  auto log = open_log(dir.path(), durability::fsync);
  constexpr int threads = 8, batches = 50, per_batch = 5;
  std::atomic<int> failures{0};
  std::mutex mu;
  std::vector<std::pair<uint64_t, uint64_t>> ranges;
  std::vector<std::thread> ts;
  for (int t = 0; t < threads; ++t)
    ts.emplace_back([&, t] {
      for (int b = 0; b < batches; ++b) {
        uint64_t first = static_cast<uint64_t>((t * batches + b) * per_batch);
        auto r = log->append_and_wait(batch_of(first, per_batch));
        if (!r) {
          ++failures;
          continue;
        }
        std::lock_guard lk(mu);
        ranges.emplace_back(r->first, first);
      }
    });
  for (auto& t : ts)
    t.join();
  REQUIRE(failures == 0);
  CHECK(log->last_position() == threads * batches * per_batch);
  CHECK(log->syncs() <= static_cast<uint64_t>(threads * batches));

  auto all = read_all(*log);
  REQUIRE(all.size() == threads * batches * per_batch);
  for (auto [pos, first_sample] : ranges)
    for (uint64_t j = 0; j < per_batch; ++j) {
      auto expected = sample(first_sample + j);
      expected.position = pos + j;
      CHECK(all[pos + j - 1] == expected);
    }
}

TEST_CASE("with fsync, zeros are written ahead of the records and appended over", "[log]") {
  // On the disk the tests run from: /tmp may be tmpfs, which gets no zeros.
  temp_dir dir(std::filesystem::current_path());
  auto file = dir.path() / segment_file_name(1);
  {
    auto log = open_log(dir.path(), durability::fsync);
    if (!log->zeros_ahead()) {
      WARN("the working directory's file system gets no zeros ahead (tmpfs or btrfs): nothing to check");
      return;
    }
    REQUIRE(log->append_and_wait(batch_of(0, 10)));
    // The preparer runs on its own thread: wait for it (bounded).
    for (int i = 0; i < 1000 && std::filesystem::file_size(file) < (1u << 20); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    REQUIRE(std::filesystem::file_size(file) >= (1u << 20));
  }
  auto size = std::filesystem::file_size(file);
  {
    auto log = open_log(dir.path(), durability::fsync);
    CHECK(log->recovery().truncated_bytes == 0);
    CHECK(read_all(*log).size() == 10);
    REQUIRE(log->append_and_wait(batch_of(10, 10)));
  }
  // The second append went over the zeros: the file did not grow for it.
  std::ifstream in(file, std::ios::binary);
  std::string bytes{std::istreambuf_iterator<char>(in), {}};
  CHECK(bytes.size() == size);
  auto log = open_log(dir.path(), durability::none);
  auto all = read_all(*log);
  REQUIRE(all.size() == 20);
  for (uint64_t i = 0; i < 20; ++i)
    CHECK(all[i].command_id == sample(i).command_id);
  auto [starts, records_end] = record_starts(bytes);
  CHECK(starts.size() == 20);
  CHECK(records_end < (1u << 20));
  CHECK(bytes.find_first_not_of('\0', records_end) == std::string::npos);
}

TEST_CASE("no zeros are written ahead on tmpfs, where a sync writes nothing", "[log][.tmpfs]") {
  sluice::testing::small_tmpfs fs(8 << 20);
  auto log = open_log(fs.path(), durability::fsync);
  CHECK_FALSE(log->zeros_ahead());
  REQUIRE(log->append_and_wait(batch_of(0, 10)));
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  auto size = std::filesystem::file_size(fs.path() / segment_file_name(1));
  log.reset();
  CHECK(std::filesystem::file_size(fs.path() / segment_file_name(1)) == size);
  CHECK(size < 4096); // the header and ten small records
}

TEST_CASE("zeros written ahead never land on records (fsync, small segments, concurrent appends)", "[log]") {
  temp_dir dir(std::filesystem::current_path());
  constexpr int threads = 6, batches = 200, per_batch = 7;
  {
    auto log = open_log(dir.path(), durability::fsync, 16 << 10);
    std::atomic<int> failures{0};
    std::vector<std::thread> ts;
    for (int t = 0; t < threads; ++t)
      ts.emplace_back([&, t] {
        for (int b = 0; b < batches; ++b)
          if (!log->append_and_wait(batch_of(static_cast<uint64_t>((t * batches + b) * per_batch), per_batch)))
            ++failures;
      });
    for (auto& t : ts)
      t.join();
    REQUIRE(failures == 0);
  }
  auto log = open_log(dir.path(), durability::fsync, 16 << 10);
  CHECK(log->recovery().truncated_bytes == 0);
  CHECK(log->recovery().segments > 10);
  auto all = read_all(*log);
  REQUIRE(all.size() == threads * batches * per_batch);
  for (uint64_t i = 0; i < all.size(); ++i)
    CHECK(all[i].position == i + 1);
}

TEST_CASE("readers never see past the durable end while appends run", "[log]") {
  temp_dir dir;
  auto log = open_log(dir.path(), durability::none, 8192);
  std::atomic<bool> done{false};
  std::atomic<int> failures{0};
  std::thread writer([&] {
    for (uint64_t i = 0; i < 3000; i += 3)
      if (!log->append_and_wait(batch_of(i, 3)))
        ++failures;
    done = true;
  });
  uint64_t seen = 0;
  while (!done || seen < log->last_position()) {
    auto next = log->read(seen + 1, 1000, [&](const record& r) {
      REQUIRE(r.position == seen + 1);
      seen = r.position;
      return true;
    });
    REQUIRE(next);
  }
  writer.join();
  CHECK(failures == 0);
  CHECK(seen == 3000);
}

TEST_CASE("appends after close fail with errc::closed", "[log]") {
  temp_dir dir;
  auto log = open_log(dir.path());
  log->close();
  auto r = log->append_and_wait(batch_of(0, 1));
  REQUIRE_FALSE(r);
  CHECK(r.error().code == errc::closed);
}

TEST_CASE("a write that finds the disk full leaves nothing behind and the log resumes", "[log]") {
  temp_dir dir;
  std::atomic<int> fail_writes{0};
  options o{dir.path(), durability::fsync};
  o.inject = [&](syscall_site s) { return s == syscall_site::write && fail_writes.load() > 0 ? ENOSPC : 0; };
  {
    auto log = event_log::open(o);
    REQUIRE(log);
    REQUIRE((*log)->append_and_wait(batch_of(0, 3)));
    fail_writes = 1;
    auto r = (*log)->append_and_wait(batch_of(3, 2));
    REQUIRE_FALSE(r);
    CHECK(r.error().code == errc::no_space);
    CHECK((*log)->unavailable());
    CHECK_FALSE((*log)->failed());
    // Refused at once while unavailable, even once writes would work.
    fail_writes = 0;
    CHECK((*log)->append_and_wait(batch_of(3, 2)).error().code == errc::no_space);
    REQUIRE((*log)->resume());
    CHECK_FALSE((*log)->unavailable());
    auto again = (*log)->append_and_wait(batch_of(3, 2));
    REQUIRE(again);
    CHECK(again->first == 4); // the positions the failed append would have had
  }
  auto log = open_log(dir.path());
  CHECK(log->recovery().truncated_bytes == 0);
  CHECK(read_all(*log).size() == 5);
}

TEST_CASE("a failed fdatasync fails the log for good and calls on_sync_failure", "[log]") {
  temp_dir dir;
  std::atomic<bool> fail_sync{false};
  std::atomic<int> called{0};
  options o{dir.path(), durability::fsync};
  o.inject = [&](syscall_site s) { return s == syscall_site::sync && fail_sync.load() ? EIO : 0; };
  o.on_sync_failure = [&](const error& e) {
    CHECK(e.code == errc::io_error);
    ++called;
  };
  auto log = event_log::open(o);
  REQUIRE(log);
  REQUIRE((*log)->append_and_wait(batch_of(0, 1)));
  fail_sync = true;
  auto r = (*log)->append_and_wait(batch_of(1, 1));
  REQUIRE_FALSE(r);
  CHECK(called == 1);
  CHECK((*log)->failed());
  CHECK_FALSE((*log)->resume()); // not a full disk: no way back but a restart
  fail_sync = false;
  CHECK((*log)->append_and_wait(batch_of(1, 1)).error().code == errc::failed);
  CHECK((*log)->last_position() == 1);
}
