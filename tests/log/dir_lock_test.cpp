// One process per data directory (SPEC §7), and the read-only log the
// tools beside a running server use.
#include "log/dir_lock.h"

#include "log/event_log.h"
#include "log_helpers.h"
#include "temp_dir.h"

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <thread>

using namespace sluice::log;
using namespace sluice::log::testing;
using sluice::testing::temp_dir;

TEST_CASE("a second lock on a data directory is refused, naming the directory and the holder's PID", "[log][lock]") {
  temp_dir dir;
  auto data = dir.path() / "data";
  auto first = dir_lock::acquire(data); // creates the directory
  REQUIRE(first);
  CHECK(std::filesystem::is_directory(data));
  auto second = dir_lock::acquire(data);
  REQUIRE_FALSE(second);
  CHECK(second.error().code == errc::locked);
  CHECK(second.error().message.find(data.string()) != std::string::npos);
  CHECK(second.error().message.find(fmt::format("process {}", ::getpid())) != std::string::npos);
  // Released with its owner.
  { auto gone = std::move(*first); }
  CHECK(dir_lock::acquire(data));
}

TEST_CASE("kill -9 of the holder releases the lock", "[log][lock]") {
  temp_dir dir;
  int ready[2];
  REQUIRE(::pipe(ready) == 0);
  pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    auto lock = dir_lock::acquire(dir.path());
    char c = lock ? 'y' : 'n';
    (void)!::write(ready[1], &c, 1);
    for (;;)
      ::pause();
  }
  char c = 0;
  REQUIRE(::read(ready[0], &c, 1) == 1);
  REQUIRE(c == 'y');
  auto held = dir_lock::acquire(dir.path());
  REQUIRE_FALSE(held);
  CHECK(held.error().message.find(fmt::format("process {}", pid)) != std::string::npos);
  ::kill(pid, SIGKILL);
  ::waitpid(pid, nullptr, 0);
  CHECK(dir_lock::acquire(dir.path())); // the stale LOCK file does not block
  ::close(ready[0]);
  ::close(ready[1]);
}

TEST_CASE("a read-only log creates nothing, cuts nothing and takes no appends", "[log][lock]") {
  temp_dir dir;
  options ro;
  ro.dir = dir.path() / "absent" / "log";
  ro.read_only = true;
  auto none = event_log::open(ro);
  REQUIRE_FALSE(none);
  CHECK(none.error().code == errc::not_found);
  CHECK_FALSE(std::filesystem::exists(dir.path() / "absent"));

  // Beside a writer: what was durable at open, nothing written.
  options rw;
  rw.dir = dir.path() / "log";
  rw.mode = durability::none;
  auto writer = event_log::open(rw);
  REQUIRE(writer);
  for (uint64_t i = 1; i <= 5; ++i) {
    write_batch b;
    auto r = sample(i);
    REQUIRE(b.add(view(r)));
    REQUIRE((*writer)->append_and_wait(std::move(b)));
  }
  ro.dir = rw.dir;
  auto reader = event_log::open(ro);
  REQUIRE(reader);
  CHECK((*reader)->last_position() == 5);
  size_t seen = 0;
  REQUIRE((*reader)->read(1, 100, [&](const record&) { return ++seen, true; }));
  CHECK(seen == 5);
  write_batch b;
  auto r = sample(6);
  REQUIRE(b.add(view(r)));
  auto refused = (*reader)->append_and_wait(std::move(b));
  REQUIRE_FALSE(refused);
  CHECK(refused.error().code == errc::closed);
  reader->reset();
  writer->reset();

  // A torn tail is read up to and left for the writer's recovery to cut.
  auto seg = *std::filesystem::directory_iterator(rw.dir);
  for (auto& e : std::filesystem::directory_iterator(rw.dir))
    if (e.path().extension() == ".log")
      seg = e;
  auto size = std::filesystem::file_size(seg.path());
  {
    std::ofstream out(seg.path(), std::ios::binary | std::ios::app);
    out << "torn-half-record-bytes";
  }
  auto torn = event_log::open(ro);
  REQUIRE(torn);
  CHECK((*torn)->last_position() == 5);
  torn->reset();
  CHECK(std::filesystem::file_size(seg.path()) == size + 22);
}
