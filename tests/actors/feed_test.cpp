#include "builtin/builtin.h"
#include "engine/view_feed.h"

#include "domain/command_decoder.h"
#include "engine/engine.h"
#include "engine/event_feed.h"
#include "engine_fixture.h"
#include "temp_dir.h"

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <atomic>
#include <condition_variable>
#include <future>
#include <map>
#include <set>
#include <thread>

using namespace sluice;
using sluice::testing::temp_dir;
using namespace std::chrono_literals;
using kind = engine::item_kind;

namespace {

std::shared_ptr<const std::string> json(std::string s) { return std::make_shared<const std::string>(std::move(s)); }

std::unique_ptr<engine::engine> start(const std::filesystem::path& dir, uint32_t shards = 3) {
  return sluice::testing::start_engine(dir, log::durability::none, shards);
}

void submit(engine::engine& e, const std::string& text, bool wait = true) {
  thread_local domain::command_decoder decoder{builtin::model().types()};
  auto cmd = decoder.decode(text);
  if (!cmd)
    throw std::runtime_error(cmd.error().message);
  auto p = std::make_shared<std::promise<void>>();
  auto f = p->get_future();
  e.submit(std::move(*cmd), [p](const engine::command_result&) { p->set_value(); });
  if (wait)
    f.wait();
}

std::string deposit(std::string_view account, std::string_view amount = "1") {
  return fmt::format(R"({{"type":"account.deposit","aggregate_id":"{}","payload":{{"amount":{}}}}})", account, amount);
}
std::string open(std::string_view account) {
  return fmt::format(R"({{"type":"account.open","aggregate_id":"{}","payload":{{"owner":"o"}}}})", account);
}

// Takes items until `done` says enough or the time is up.
std::vector<engine::feed_item> take_until(engine::view_feed& f,
                                          const std::function<bool(const std::vector<engine::feed_item>&)>& done) {
  std::vector<engine::feed_item> out;
  for (int i = 0; i < 5000 && !done(out); ++i) {
    if (f.take(out, 1000) == 0)
      std::this_thread::sleep_for(1ms);
  }
  return out;
}

} // namespace

TEST_CASE("a view feed holds items until every shard registered, then snapshots before changes", "[feed]") {
  int wakes = 0;
  engine::view_feed f([&] { ++wakes; }, 2);
  f.snapshot("a", json("1"), 5);
  f.change("a", json("2"), 6);
  std::vector<engine::feed_item> out;
  CHECK(f.take(out, 10) == 0);
  f.snapshot("b", nullptr, 4);
  f.registered(5);
  CHECK(wakes == 0);
  f.registered(4);
  CHECK(wakes == 1);
  REQUIRE(f.take(out, 10) == 4);
  CHECK(out[0].kind == kind::subscribed);
  CHECK(out[0].position == 4);
  CHECK((out[1].kind == kind::snapshot && out[1].key == "a" && *out[1].value == "1"));
  CHECK((out[2].kind == kind::snapshot && out[2].key == "b" && !out[2].value));
  CHECK((out[3].kind == kind::change && out[3].position == 6));
  CHECK(f.take(out, 10) == 0);
  f.change("a", json("3"), 7);
  CHECK(wakes == 2);
}

TEST_CASE("unsent changes of one key are conflated to the newest", "[feed]") {
  engine::view_feed f([] {}, 1);
  f.registered(0);
  std::vector<engine::feed_item> out;
  f.take(out, 1);
  out.clear();
  for (int i = 1; i <= 1000; ++i)
    f.change(fmt::format("k{}", i % 3), json(std::to_string(i)), static_cast<uint64_t>(i));
  CHECK(f.pending() == 3);
  CHECK(f.conflated() == 997);
  REQUIRE(f.take(out, 10) == 3);
  CHECK((out[0].key == "k1" && out[0].position == 1000 && *out[0].value == "1000"));
  CHECK((out[1].key == "k2" && out[1].position == 998));
  CHECK((out[2].key == "k0" && out[2].position == 999));
}

TEST_CASE("a key subscription gets a snapshot, then its changes in position order", "[feed][actors]") {
  temp_dir dir;
  auto e = start(dir.path());
  submit(*e, open("A"));
  std::promise<void> applied;
  e->read_view("account_balance", "A", e->log().last_position(), 10s,
               [&](const engine::view_read&) { applied.set_value(); });
  applied.get_future().wait(); // views are eventually consistent: let the open show first
  auto feed = e->subscribe_view("account_balance", "A", [] {});
  auto none = e->subscribe_view("account_balance", "B", [] {});
  REQUIRE(feed);
  CHECK_FALSE(e->subscribe_view("no_view", "A", [] {}));
  for (int i = 0; i < 20; ++i)
    submit(*e, deposit("A"));
  auto items = take_until(*feed, [](auto& v) {
    return !v.empty() && v.back().value && v.back().value->find("20.00") != std::string::npos;
  });
  REQUIRE(items.size() >= 3);
  CHECK(items[0].kind == kind::subscribed);
  CHECK(items[1].kind == kind::snapshot);
  REQUIRE(items[1].value);
  CHECK(*items[1].value == R"({"account_id":"A","owner":"o","status":"open","balance":0.00,"version":1})");
  uint64_t last = items[1].position;
  for (size_t i = 2; i < items.size(); ++i) {
    CHECK(items[i].kind == kind::change);
    CHECK(items[i].position > last);
    last = items[i].position;
  }
  CHECK(*items.back().value == R"({"account_id":"A","owner":"o","status":"open","balance":20.00,"version":21})");
  // A key that does not exist yet is announced with a null snapshot.
  auto b = take_until(*none, [](auto& v) { return v.size() >= 2; });
  REQUIRE(b.size() == 2);
  CHECK(b[1].kind == kind::snapshot);
  CHECK_FALSE(b[1].value);
}

TEST_CASE("a slow \"*\" subscriber stays bounded and ends with every key's latest value", "[feed][actors]") {
  temp_dir dir;
  auto e = start(dir.path());
  for (int a = 0; a < 10; ++a)
    submit(*e, open(fmt::format("A{}", a)));
  auto feed = e->subscribe_view("account_balance", "*", [] {});
  REQUIRE(feed);
  // The subscriber reads nothing while 3,000 changes happen.
  for (int i = 0; i < 3000; ++i)
    submit(*e, deposit(fmt::format("A{}", i % 10)), i % 100 == 99);
  submit(*e, deposit("A0", "0.01"));
  std::promise<void> p;
  auto f = p.get_future();
  e->read_view("account_balance", "A0", e->log().last_position(), 10s,
               [&](const engine::view_read&) { p.set_value(); });
  f.wait();
  std::this_thread::sleep_for(50ms); // let every shard hand its changes to the feed
  CHECK(feed->pending() <= 10);
  CHECK(feed->conflated() > 0);
  std::vector<engine::feed_item> items;
  while (feed->take(items, 100) > 0) {
  }
  std::map<std::string, std::string> latest;
  for (auto& it : items)
    if (it.kind != kind::subscribed)
      latest[it.key] = *it.value;
  REQUIRE(latest.size() == 10);
  CHECK(latest["A0"] == R"({"account_id":"A0","owner":"o","status":"open","balance":300.01,"version":302})");
  CHECK(latest["A7"] == R"({"account_id":"A7","owner":"o","status":"open","balance":300.00,"version":301})");
}

TEST_CASE("an event stream catches up from the log and goes live without gap or repeat", "[feed][actors]") {
  temp_dir dir;
  auto e = start(dir.path());
  submit(*e, open("A"));
  for (int i = 0; i < 200; ++i)
    submit(*e, deposit("A"), false);

  std::mutex mu;
  std::condition_variable cv;
  bool woken = false;
  auto id = e->add_durable_listener([&] {
    std::lock_guard lk(mu);
    woken = true;
    cv.notify_one();
  });
  std::atomic<bool> writing{true};
  std::thread writer([&] {
    for (int i = 0; i < 2000; ++i)
      submit(*e, deposit("A"), i % 50 == 0);
    submit(*e, deposit("A"));
    writing = false;
  });

  engine::event_feed feed(e->log(), 1);
  std::vector<uint64_t> seen;
  for (;;) {
    auto n = feed.read(64, [&](const log::record& r) { seen.push_back(r.position); });
    REQUIRE(n);
    if (*n > 0)
      continue;
    if (!writing && !feed.behind() && e->log().last_position() >= 2202)
      break;
    std::unique_lock lk(mu);
    cv.wait_for(lk, 10ms, [&] { return woken; });
    woken = false;
  }
  writer.join();
  e->remove_durable_listener(id);
  REQUIRE(seen.size() == 2202);
  for (size_t i = 0; i < seen.size(); ++i)
    REQUIRE(seen[i] == i + 1);

  // A filter on the aggregate type skips the others but still moves on.
  submit(*e, R"({"type":"order.create","aggregate_id":"O","payload":{"customer_id":"C"}})");
  engine::event_feed orders(e->log(), 1, "order");
  std::vector<std::string> types;
  while (*orders.read(1000, [&](const log::record& r) { types.emplace_back(r.type); }) > 0) {
  }
  CHECK(types == std::vector<std::string>{"order.created"});
}
