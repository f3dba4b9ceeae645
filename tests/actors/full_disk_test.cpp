// A full disk, for real (a small tmpfs): commands get 503 log_unavailable,
// nothing half-written stays, and the engine resumes by itself once there
// is room, with every aggregate exactly as the log has it.
#include "builtin/builtin.h"
#include "actors/runtime.h"

#include "domain/command_decoder.h"
#include "engine_fixture.h"
#include "small_tmpfs.h"

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <future>
#include <set>
#include <thread>

using namespace sluice;
using namespace std::chrono_literals;

namespace {

engine::command_result send(engine::engine& e, const std::string& json) {
  thread_local domain::command_decoder decoder{builtin::model().types()};
  auto cmd = decoder.decode(json);
  REQUIRE(cmd);
  std::promise<engine::command_result> p;
  auto f = p.get_future();
  e.submit(std::move(*cmd), [&p](engine::command_result r) { p.set_value(std::move(r)); });
  return f.get();
}

std::string deposit(int i) {
  return fmt::format(R"({{"type":"account.deposit","aggregate_id":"A","command_id":"d-{}","payload":{{"amount":1}}}})",
                     i);
}

} // namespace

TEST_CASE("a full disk answers log_unavailable, then resumes once there is room", "[actors][.tmpfs]") {
  testing::small_tmpfs fs(2 << 20);
  fs.fill("filler", 1536 << 10);
  auto data = fs.path() / "data";
  std::set<int> acked;
  int unavailable_at = -1;
  uint64_t version_before = 0;
  {
    auto e = testing::start_engine(data, log::durability::fsync);
    REQUIRE(send(*e, R"({"type":"account.open","aggregate_id":"A","payload":{"owner":"o"}})").outcome.version == 1);
    for (int i = 0; i < 100'000; ++i) {
      auto r = send(*e, deposit(i));
      if (r.status == engine::command_status::log_unavailable) {
        unavailable_at = i;
        break;
      }
      REQUIRE(r.status == engine::command_status::done);
      acked.insert(i);
      version_before = r.outcome.version;
    }
    REQUIRE(unavailable_at > 0);
    CHECK(e->log_unavailable());
    CHECK(e->ready()); // ready for reads; /readyz says log_unavailable
    // While it lasts, commands are refused at once, and nothing is appended.
    auto last = e->log().last_position();
    for (int i = 0; i < 5; ++i)
      CHECK(send(*e, deposit(1'000'000 + i)).status == engine::command_status::log_unavailable);
    CHECK(e->log().last_position() == last);
    // Room again: the engine comes back by itself.
    std::filesystem::remove(fs.path() / "filler");
    for (int i = 0; i < 600 && e->log_unavailable(); ++i) // 30 s: sanitized builds are slow
      std::this_thread::sleep_for(50ms);
    REQUIRE_FALSE(e->log_unavailable());
    // The aggregate is as the log has it: the failed deposit never happened,
    // so its id is new and the next version follows the last acknowledged.
    auto r = send(*e, deposit(unavailable_at));
    REQUIRE(r.status == engine::command_status::done);
    CHECK_FALSE(r.outcome.result == domain::outcome::kind::duplicate);
    CHECK(r.outcome.version == version_before + 1);
    acked.insert(unavailable_at);
    e->stop();
  }
  // A restart reads a clean log holding every acknowledged command, once.
  auto log = log::event_log::open({data / "log", log::durability::none});
  REQUIRE(log);
  CHECK((*log)->recovery().truncated_bytes == 0);
  std::multiset<std::string> ids;
  uint64_t expected_version = 0;
  bool in_order = true;
  REQUIRE((*log)->read(1, SIZE_MAX, [&](const log::record& rec) {
    in_order &= rec.version == ++expected_version;
    ids.insert(std::string(rec.command_id));
    return true;
  }));
  CHECK(in_order);
  CHECK(ids.size() == acked.size() + 1); // + the open
  for (int i : acked)
    CHECK(ids.count(fmt::format("d-{}", i)) == 1);
}
