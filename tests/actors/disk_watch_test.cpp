// The runtime's parts that need no actor system: the full-disk watch and
// the recovery gate.
#include "actors/disk_watch.h"
#include "actors/recovery_gate.h"

#include <catch2/catch.hpp>

#include <atomic>
#include <future>

using namespace sluice::actors;
using namespace std::chrono_literals;

namespace {

template <class F>
bool eventually(F f, std::chrono::milliseconds within = 5s) {
  auto until = std::chrono::steady_clock::now() + within;
  while (!f()) {
    if (std::chrono::steady_clock::now() > until)
      return false;
    std::this_thread::sleep_for(1ms);
  }
  return true;
}

} // namespace

TEST_CASE("the disk watch refuses from trip() until a resume succeeds, and tries again until then") {
  std::atomic<int> tries{0};
  std::atomic<bool> room{false};
  disk_watch w(
      [&] {
        ++tries;
        return room.load();
      },
      5ms);
  w.start();
  std::this_thread::sleep_for(20ms);
  CHECK_FALSE(w.unavailable());
  CHECK(tries == 0); // asleep until tripped

  w.trip();
  CHECK(w.unavailable());
  REQUIRE(eventually([&] { return tries >= 3; }));
  CHECK(w.unavailable()); // every try failed

  room = true;
  REQUIRE(eventually([&] { return !w.unavailable(); }));
  int after = tries;
  std::this_thread::sleep_for(30ms);
  CHECK(tries == after); // asleep again

  room = false;
  w.trip(); // a second full disk
  CHECK(w.unavailable());
  room = true;
  REQUIRE(eventually([&] { return !w.unavailable(); }));
  w.stop();
  w.stop(); // idempotent
}

TEST_CASE("the disk watch stops while the disk is still full") {
  disk_watch w([] { return false; }, 1h);
  w.start();
  w.trip();
  auto stopped = std::async(std::launch::async, [&] { w.stop(); });
  CHECK(stopped.wait_for(5s) == std::future_status::ready);
  CHECK(w.unavailable());
}

TEST_CASE("the recovery gate opens after a successful recovery, before what comes after it") {
  recovery_gate g;
  std::promise<void> go;
  auto released = go.get_future();
  std::atomic<bool> ready_in_after{false};
  g.start(
      [&] {
        released.wait();
        return true;
      },
      [&] { ready_in_after = g.ready(); });
  CHECK_FALSE(g.ready());
  CHECK_FALSE(g.wait(20ms)); // still running
  go.set_value();
  CHECK(g.wait(5s));
  CHECK(g.ready());
  g.join();
  CHECK(ready_in_after);
}

TEST_CASE("a failed recovery leaves the gate shut and skips what comes after") {
  recovery_gate g;
  std::atomic<bool> after{false};
  g.start([] { return false; }, [&] { after = true; });
  CHECK_FALSE(g.wait(5s)); // ended, failed
  g.join();
  CHECK_FALSE(g.ready());
  CHECK_FALSE(after);
}
