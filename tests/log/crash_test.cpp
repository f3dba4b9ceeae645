// A child process appends under load and is killed with SIGKILL at a
// random moment; everything it reported durable must be read back.
#include "log/event_log.h"

#include "log_helpers.h"
#include "kill_child.h"
#include "temp_dir.h"

#include <catch2/catch.hpp>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <random>
#include <thread>

using namespace sluice::log;
using namespace sluice::log::testing;
using sluice::testing::temp_dir;

namespace {

// What the child tells the parent after an append is durable.
struct ack {
  uint64_t first;
  uint32_t writer;
  uint32_t count;
  uint64_t seq; // the writer's sequence number of the batch's first record
};

std::string payload(uint32_t writer, uint64_t seq) { return fmt::format("w{}-s{}", writer, seq); }

[[noreturn]] void run_child(const std::filesystem::path& dir, durability mode, int ack_fd, uint32_t round) {
  auto opened = event_log::open({dir, mode, 1 << 20});
  if (!opened)
    _exit(3);
  auto& log = **opened;
  std::vector<std::thread> writers;
  for (uint32_t w = 0; w < 4; ++w)
    writers.emplace_back([&, w] {
      uint32_t id = round * 16 + w;
      std::mt19937 rng(id);
      for (uint64_t seq = 0;;) {
        uint32_t n = 1 + rng() % 8;
        write_batch b;
        std::vector<std::string> data;
        for (uint32_t j = 0; j < n; ++j)
          data.push_back(payload(id, seq + j));
        for (auto& d : data)
          b.add({0, seq, 0, "order.item_added", "ORD-1", "", d});
        auto r = log.append_and_wait(std::move(b));
        if (!r)
          _exit(4);
        ack a{r->first, id, n, seq};
        if (::write(ack_fd, &a, sizeof a) != sizeof a)
          _exit(5);
        seq += n;
      }
    });
  std::this_thread::sleep_for(std::chrono::seconds(20)); // the parent kills long before
  _exit(6);
}

void crash_rounds(durability mode) {
  // On the disk the tests run from, so that fsync mode kills the child
  // while it writes zeros ahead too (/tmp may be tmpfs, which gets none).
  temp_dir dir(std::filesystem::current_path());
  std::vector<ack> acked;
  std::mt19937 rng(42);
  for (uint32_t round = 0; round < 6; ++round) {
    // Let it reach a random number of acknowledged appends, then kill it mid-flight.
    auto acks = sluice::testing::kill_after_acks<ack>(20 + rng() % 400, [&](int fd) {
      run_child(dir.path(), mode, fd, round);
    });
    acked.insert(acked.end(), acks.begin(), acks.end());

    auto log = open_log(dir.path(), mode, 1 << 20);
    auto all = read_all(*log);
    INFO("round " << round << ", " << acked.size() << " acks, " << all.size() << " records");
    for (auto& x : acked) {
      REQUIRE(x.first + x.count - 1 <= all.size());
      for (uint32_t j = 0; j < x.count; ++j)
        REQUIRE(all[x.first + j - 1].data == payload(x.writer, x.seq + j));
    }
  }
}

} // namespace

TEST_CASE("SIGKILL during fsync appends loses nothing acknowledged", "[log][crash]") {
  crash_rounds(durability::fsync);
}

TEST_CASE("SIGKILL during unsynced appends loses nothing acknowledged", "[log][crash]") {
  crash_rounds(durability::none);
}
