// The sequenced error log (SPEC §10): a key whose event a projector fails
// on is parked with every later event of it, in order; other keys go on;
// replay after the fix applies them in order, skip drops them durably;
// the log survives restarts, and every start retries what is parked.
#include "builtin/builtin.h"
#include "engine/engine.h"

#include "engine_fixture.h"
#include "tally_domain.h"
#include "temp_dir.h"
#include "view_compare.h"

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <future>
#include <thread>

using namespace sluice;
using sluice::testing::send_json;
using sluice::testing::temp_dir;
using namespace std::chrono_literals;
namespace tally = sluice::testing::tally;

namespace {

engine::options options(const std::filesystem::path& dir, bool drill, bool keep = false) {
  engine::options o;
  o.model = &tally::model();
  o.data_dir = dir;
  o.durability = log::durability::none;
  o.threads = 2;
  o.shards = 2;
  if (drill)
    o.drill_fail_views = {{"tallies", "BAD"}};
  o.keep_parked = keep;
  return o;
}

void open_and_add(engine::engine& e, const std::string& id, std::initializer_list<int> adds) {
  REQUIRE(send_json(e, fmt::format(R"({{"type":"tally.open","aggregate_id":"{}","payload":{{"limit":1000}}}})", id))
              .outcome.result == domain::outcome::kind::accepted);
  for (int n : adds)
    REQUIRE(send_json(e, fmt::format(R"({{"type":"tally.add","aggregate_id":"{}","payload":{{"n":{}}}}})", id, n))
                .outcome.result == domain::outcome::kind::accepted);
}

engine::view_read read(engine::engine& e, const std::string& key) {
  std::promise<engine::view_read> p;
  auto f = p.get_future();
  REQUIRE(e.read_view("tallies", key, e.log().last_position(), 5s,
                      [&p](engine::view_read r) { p.set_value(std::move(r)); }));
  return f.get();
}

engine::view_errors_page errors(engine::engine& e) {
  std::promise<engine::view_errors_page> p;
  auto f = p.get_future();
  REQUIRE(e.view_errors("tallies", "", 100, [&p](engine::view_errors_page pg) { p.set_value(std::move(pg)); }));
  return f.get();
}

std::pair<size_t, size_t> replay(engine::engine& e, const std::string& key = "") {
  std::promise<std::pair<size_t, size_t>> p;
  auto f = p.get_future();
  REQUIRE(e.replay_view_errors("tallies", key, [&p](size_t a, size_t b) { p.set_value({a, b}); }));
  return f.get();
}

uint64_t parked_metric(engine::engine& e) {
  auto m = e.snapshot();
  REQUIRE(m.views.size() == 1);
  return m.views[0].parked;
}

} // namespace

TEST_CASE("a failing key is parked with its later events; others go on; the fix replays them in order",
          "[views][errors]") {
  temp_dir dir;
  int64_t first_failed = 0;
  {
    auto e = sluice::testing::start_engine(options(dir.path(), true));
    open_and_add(*e, "BAD-1", {1, 2, 3});
    open_and_add(*e, "GOOD-1", {5});
    open_and_add(*e, "BAD-2", {});

    auto good = read(*e, "GOOD-1");
    REQUIRE(good.status == engine::read_status::found);
    CHECK(*good.value == R"({"tally_id":"GOOD-1","total":5,"adds":1})");
    CHECK(good.parked == 0);
    auto bad = read(*e, "BAD-1"); // its first event failed: no value, 4 events parked
    REQUIRE(bad.status == engine::read_status::found);
    CHECK(bad.value == nullptr);
    CHECK(bad.parked == 4);
    CHECK(bad.position >= 7); // parked events count as applied

    auto page = errors(*e);
    REQUIRE(page.items.size() == 2);
    CHECK(page.items[0].key == "BAD-1");
    CHECK(page.items[0].position == 1);
    CHECK(page.items[0].event_type == "tally.opened");
    CHECK(page.items[0].attempts == 1);
    CHECK(page.items[0].parked == 4);
    CHECK(page.items[0].error.find("drill") != std::string::npos);
    CHECK(page.items[1].key == "BAD-2");
    first_failed = page.items[0].first_failed_us;
    CHECK(first_failed > 0);
    CHECK(parked_metric(*e) == 5);

    // Still failing: a replay leaves them parked, one attempt more.
    CHECK(replay(*e) == std::pair<size_t, size_t>{0, 2});
    CHECK(errors(*e).items[0].attempts == 2);
  }
  {
    // Restarted with the drill still on: the retry at start fails again.
    auto e = sluice::testing::start_engine(options(dir.path(), true));
    auto page = errors(*e);
    REQUIRE(page.items.size() == 2);
    CHECK(page.items[0].attempts == 3);
    CHECK(page.items[0].first_failed_us == first_failed); // kept across restarts
    CHECK(page.items[0].parked == 4);
  }
  {
    // Fixed, but kept parked: untried until asked.
    auto e = sluice::testing::start_engine(options(dir.path(), false, true));
    CHECK(errors(*e).items.size() == 2);
    CHECK(read(*e, "BAD-1").value == nullptr);
    CHECK(replay(*e, "BAD-1") == std::pair<size_t, size_t>{1, 0});
    auto fixed = read(*e, "BAD-1");
    REQUIRE(fixed.value);
    CHECK(*fixed.value == R"({"tally_id":"BAD-1","total":6,"adds":3})"); // every event, in order
    CHECK(fixed.parked == 0);
    CHECK(errors(*e).items.size() == 1);
  }
  {
    // Fixed: the retry at start applies the rest; the view equals the log.
    auto e = sluice::testing::start_engine(options(dir.path(), false));
    sluice::testing::await_views(*e);
    CHECK(errors(*e).items.empty());
    CHECK(parked_metric(*e) == 0);
    CHECK(sluice::testing::served(*e, "tallies") == sluice::testing::recompute(e->log(), "tallies", tally::model()));
  }
}

TEST_CASE("skip drops a key's parked events for good; the key keeps its last good value", "[views][errors]") {
  temp_dir dir;
  auto opts = [&](bool drill) {
    auto o = options(dir.path(), false);
    o.model = &builtin::model();
    if (drill)
      o.drill_fail_views = {{"order_summary", "BAD"}};
    return o;
  };
  auto summary = [](engine::engine& e, const std::string& key) {
    std::promise<engine::view_read> p;
    auto f = p.get_future();
    REQUIRE(e.read_view("order_summary", key, e.log().last_position(), 5s,
                        [&p](engine::view_read r) { p.set_value(std::move(r)); }));
    return f.get();
  };
  auto add_item = [](engine::engine& e, int qty) {
    REQUIRE(
        send_json(
            e,
            fmt::format(
                R"({{"type":"order.add_item","aggregate_id":"BADX","payload":{{"product":"P","qty":{},"price":1}}}})",
                qty))
            .outcome.result == domain::outcome::kind::accepted);
  };
  {
    auto e = sluice::testing::start_engine(opts(false));
    REQUIRE(send_json(*e, R"({"type":"order.create","aggregate_id":"BADX","payload":{"customer_id":"C"}})")
                .outcome.result == domain::outcome::kind::accepted);
    add_item(*e, 1);
  } // its checkpoint holds the order with one item
  {
    auto e = sluice::testing::start_engine(opts(true));
    add_item(*e, 5);
    auto r = summary(*e, "BADX");
    REQUIRE(r.value);
    CHECK(r.value->find(R"("item_count":1,)") != std::string::npos); // the last good value
    CHECK(r.parked == 1);
    std::promise<uint64_t> none, some;
    REQUIRE(e->skip_view_errors("order_summary", "NOPE", [&](uint64_t n) { none.set_value(n); }));
    CHECK(none.get_future().get() == 0);
    REQUIRE(e->skip_view_errors("order_summary", "BADX", [&](uint64_t n) { some.set_value(n); }));
    CHECK(some.get_future().get() == 1);
    CHECK(summary(*e, "BADX").parked == 0);
  }
  {
    // Fixed and replayed from the whole log: the skipped event stays dropped.
    auto o = opts(false);
    o.checkpoints = false;
    auto e = sluice::testing::start_engine(o);
    auto r = summary(*e, "BADX");
    REQUIRE(r.value);
    CHECK(r.value->find(R"("item_count":1,)") != std::string::npos);
    CHECK(r.parked == 0);
  }
}

TEST_CASE("subscribers hear of a parked sequence once, then of the change its replay makes", "[views][errors]") {
  temp_dir dir;
  std::vector<engine::feed_item> got;
  auto until = [&](const std::shared_ptr<engine::view_feed>& feed, auto&& done) {
    auto deadline = std::chrono::steady_clock::now() + 10s;
    while (!done()) {
      REQUIRE(std::chrono::steady_clock::now() < deadline);
      feed->take(got, 100);
      std::this_thread::sleep_for(1ms);
    }
  };
  auto count = [&](engine::item_kind k) {
    return std::count_if(got.begin(), got.end(), [&](auto& i) { return i.kind == k; });
  };
  {
    auto e = sluice::testing::start_engine(options(dir.path(), true));
    auto feed = e->subscribe_view("tallies", "BAD-9", [] {});
    REQUIRE(feed);
    until(feed, [&] { return count(engine::item_kind::snapshot) == 1; });
    open_and_add(*e, "BAD-9", {4, 5});
    until(feed, [&] { return count(engine::item_kind::parked) == 1; });
    read(*e, "BAD-9"); // every event applied (parked) by now
    feed->take(got, 100);
    CHECK(count(engine::item_kind::parked) == 1); // once per sequence
    auto it = std::find_if(got.begin(), got.end(), [](auto& i) { return i.kind == engine::item_kind::parked; });
    CHECK(it->key == "BAD-9");
    CHECK(it->position == 1);
    CHECK(it->error.find("drill") != std::string::npos);
    CHECK(count(engine::item_kind::change) == 0);
    feed->close();
  }
  got.clear();
  auto e = sluice::testing::start_engine(options(dir.path(), false, true));
  auto feed = e->subscribe_view("tallies", "BAD-9", [] {});
  until(feed, [&] { return count(engine::item_kind::snapshot) == 1; });
  CHECK(got.back().value == nullptr);
  CHECK(replay(*e) == std::pair<size_t, size_t>{1, 0});
  until(feed, [&] { return count(engine::item_kind::change) == 1; });
  CHECK(*got.back().value == R"({"tally_id":"BAD-9","total":9,"adds":2})");
  feed->close();
}
