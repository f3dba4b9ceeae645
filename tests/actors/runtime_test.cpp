#include "builtin/builtin.h"
#include "engine/engine.h"

#include "domain/command_decoder.h"
#include "engine_fixture.h"
#include "temp_dir.h"

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <atomic>
#include <fstream>
#include <future>
#include <map>
#include <thread>

using namespace sluice;
using sluice::testing::temp_dir;
using namespace std::chrono_literals;

namespace {

std::unique_ptr<engine::engine> start(const std::filesystem::path& dir, uint32_t shards = 2) {
  return sluice::testing::start_engine(dir, log::durability::none, shards);
}

engine::command_result send(engine::engine& e, const std::string& json) { return sluice::testing::send_json(e, json); }

std::string cmd(std::string_view type, std::string_view id, std::string_view payload, std::string_view extra = "") {
  return fmt::format(R"({{"type":"{}","aggregate_id":"{}","payload":{}{}}})", type, id, payload, extra);
}

engine::view_read read(engine::engine& e, std::string_view view, std::string_view key, uint64_t min_position = 0,
                       std::chrono::milliseconds timeout = 5000ms) {
  std::promise<engine::view_read> p;
  auto f = p.get_future();
  REQUIRE(e.read_view(view, key, min_position, timeout, [&p](engine::view_read r) { p.set_value(std::move(r)); }));
  return f.get();
}

using kind = domain::outcome::kind;

} // namespace

TEST_CASE("commands are decided, made durable and reflected in views", "[actors]") {
  temp_dir dir;
  auto e = start(dir.path());
  auto r = send(*e, cmd("order.create", "ORD-1", R"({"customer_id":"C-1"})"));
  REQUIRE(r.status == engine::command_status::done);
  CHECK(r.outcome.result == kind::accepted);
  CHECK(r.outcome.version == 1);
  CHECK(r.position == 1);
  r = send(*e, cmd("order.add_item", "ORD-1", R"({"product":"Laptop","qty":1,"price":999.99})"));
  CHECK(r.position == 2);
  CHECK(send(*e, cmd("order.confirm", "ORD-9", "{}")).outcome.result == kind::rejected);
  CHECK(send(*e, cmd("order.confirm", "ORD-1", "{}", R"(,"expected_version":1)")).outcome.result == kind::conflict);

  auto v = read(*e, "order_summary", "ORD-1", 2);
  REQUIRE(v.status == engine::read_status::found);
  CHECK(v.position >= 2);
  CHECK(v.changed_at == 2);
  CHECK(*v.value ==
        R"({"order_id":"ORD-1","customer_id":"C-1","status":"pending","item_count":1,"total":999.99,"skus":["LAPTOP"],)"
        R"("version":2})");
  CHECK(read(*e, "order_summary", "ORD-2").status == engine::read_status::not_found);
  CHECK(read(*e, "order_summary", "ORD-1", 99, 50ms).status == engine::read_status::timeout);
  std::promise<engine::view_read> unused;
  CHECK_FALSE(e->read_view("no_such_view", "k", 0, 10ms, [](const engine::view_read&) {}));

  auto stats = read(*e, "order_stats", "all", 2);
  CHECK(*stats.value ==
        R"({"orders_created":1,"orders_confirmed":0,"orders_cancelled":0,"items_added":1,"revenue_confirmed":0.00})");
  CHECK(e->snapshot().commands_ok == 2);
  CHECK(e->snapshot().commands_rejected == 1);
  CHECK(e->snapshot().commands_conflict == 1);
}

TEST_CASE("64 threads withdrawing from one account never overdraw it", "[actors]") {
  temp_dir dir;
  auto e = start(dir.path());
  REQUIRE(send(*e, cmd("account.open", "ACC-1", R"({"owner":"Ada"})")).outcome.result == kind::accepted);
  REQUIRE(send(*e, cmd("account.deposit", "ACC-1", R"({"amount":1000})")).outcome.result == kind::accepted);
  std::atomic<int> accepted{0}, rejected{0}, other{0};
  std::vector<std::thread> threads;
  threads.reserve(64);
  for (int t = 0; t < 64; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < 50; ++i) {
        auto r = send(*e, cmd("account.withdraw", "ACC-1", R"({"amount":0.5})"));
        if (r.outcome.result == kind::accepted)
          ++accepted;
        else if (r.outcome.result == kind::rejected)
          ++rejected;
        else
          ++other;
      }
    });
  for (auto& t : threads)
    t.join();
  CHECK(accepted == 2000); // 1000.00 / 0.50, exactly
  CHECK(rejected == 64 * 50 - 2000);
  CHECK(other == 0);
  auto v = read(*e, "account_balance", "ACC-1", e->log().last_position());
  CHECK(*v.value == R"({"account_id":"ACC-1","owner":"Ada","status":"open","balance":0.00,"version":2002})");
}

TEST_CASE("versions have no gaps and positions strictly increase under concurrency", "[actors]") {
  temp_dir dir;
  auto e = start(dir.path());
  std::vector<std::thread> threads;
  threads.reserve(8);
  for (int t = 0; t < 8; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < 200; ++i) {
        auto id = fmt::format("ORD-{}", (t * 7 + i) % 23);
        send(*e, cmd("order.create", id, R"({"customer_id":"C"})"));
        send(*e, cmd("order.add_item", id, fmt::format(R"({{"product":"P{}","qty":1,"price":1}})", i % 5)));
      }
    });
  for (auto& t : threads)
    t.join();
  std::map<std::string, uint64_t> versions;
  uint64_t last = 0;
  auto r = e->log().read(1, SIZE_MAX, [&](const log::record& rec) {
    CHECK(rec.position == last + 1);
    last = rec.position;
    auto& v = versions[std::string(rec.aggregate_id)];
    CHECK(rec.version == v + 1);
    v = rec.version;
    return true;
  });
  REQUIRE(r);
  CHECK(last == e->log().last_position());
  CHECK(versions.size() == 23);
}

TEST_CASE("one producer's commands to an aggregate are decided in submission order", "[actors]") {
  // All in flight at once, so the router hands each aggregate chains of
  // several commands per drain; each expects the version the previous one
  // made, so any reordering is a conflict.
  temp_dir dir;
  auto e = start(dir.path());
  constexpr int k_aggregates = 7, k_each = 3000;
  domain::command_decoder decoder{builtin::model().types()};
  for (int a = 0; a < k_aggregates; ++a)
    REQUIRE(send(*e, cmd("account.open", fmt::format("ACC-{}", a), R"({"owner":"o"})")).outcome.result ==
            kind::accepted);
  std::atomic<int> accepted{0}, answered{0};
  std::promise<void> all;
  for (int i = 0; i < k_each; ++i)
    for (int a = 0; a < k_aggregates; ++a) {
      auto c = decoder.decode(cmd("account.deposit", fmt::format("ACC-{}", a), R"({"amount":1})",
                                  fmt::format(R"(,"expected_version":{})", i + 1)));
      REQUIRE(c);
      e->submit(std::move(*c), [&](const engine::command_result& r) {
        if (r.status == engine::command_status::done && r.outcome.result == kind::accepted)
          accepted.fetch_add(1);
        if (answered.fetch_add(1) + 1 == k_aggregates * k_each)
          all.set_value();
      });
    }
  REQUIRE(all.get_future().wait_for(30s) == std::future_status::ready);
  CHECK(accepted.load() == k_aggregates * k_each);
  for (int a = 0; a < k_aggregates; ++a)
    CHECK(read(*e, "account_balance", fmt::format("ACC-{}", a), e->log().last_position())
              .value->find(fmt::format(R"("version":{})", k_each + 1)) != std::string::npos);
}

TEST_CASE("a restart rebuilds aggregates, views and idempotency from the log", "[actors]") {
  temp_dir dir;
  engine::command_result first;
  std::string summary_before, customers_before;
  {
    auto e = start(dir.path(), 3);
    send(*e, cmd("order.create", "ORD-1", R"({"customer_id":"C-1"})"));
    first =
        send(*e, cmd("order.add_item", "ORD-1", R"({"product":"A","qty":2,"price":3.5})", R"(,"command_id":"add-1")"));
    REQUIRE(first.outcome.result == kind::accepted);
    // A repeat while running answers the original outcome.
    auto dup =
        send(*e, cmd("order.add_item", "ORD-1", R"({"product":"A","qty":2,"price":3.5})", R"(,"command_id":"add-1")"));
    CHECK(dup.outcome.result == kind::duplicate);
    CHECK(dup.position == first.position);
    summary_before = *read(*e, "order_summary", "ORD-1", first.position).value;
    customers_before = *read(*e, "customer_orders", "C-1", first.position).value;
    e->stop();
  }
  auto e = start(dir.path(), 3);
  auto dup =
      send(*e, cmd("order.add_item", "ORD-1", R"({"product":"A","qty":2,"price":3.5})", R"(,"command_id":"add-1")"));
  CHECK(dup.outcome.result == kind::duplicate);
  CHECK(dup.position == first.position);
  CHECK(dup.outcome.version == first.outcome.version);
  CHECK(*read(*e, "order_summary", "ORD-1", first.position).value == summary_before);
  CHECK(*read(*e, "customer_orders", "C-1", first.position).value == customers_before);
  // The rebuilt aggregate goes on from its version.
  auto next = send(*e, cmd("order.confirm", "ORD-1", "{}", R"(,"expected_version":2)"));
  CHECK(next.outcome.result == kind::accepted);
  CHECK(next.position == first.position + 1);
}

TEST_CASE("listing a view merges its shards in key order", "[actors]") {
  temp_dir dir;
  auto e = start(dir.path(), 3);
  for (int i = 0; i < 25; ++i)
    send(*e, cmd("account.open", fmt::format("A{:02d}", i), R"({"owner":"x"})"));
  // Wait until every shard has applied its opens: a read waits for its key's
  // shard only, so read them all (one key alone left a shard behind).
  auto last = e->log().last_position();
  for (int i = 0; i < 25; ++i)
    REQUIRE(read(*e, "account_balance", fmt::format("A{:02d}", i), last).status == engine::read_status::found);
  std::vector<std::string> keys;
  std::string after;
  for (;;) {
    std::promise<engine::view_page> p;
    auto f = p.get_future();
    REQUIRE(e->list_view("account_balance", after, 10, [&p](engine::view_page pg) { p.set_value(std::move(pg)); }));
    auto page = f.get();
    for (auto& it : page.items)
      keys.push_back(it.key);
    if (!page.more)
      break;
    after = page.items.back().key;
  }
  REQUIRE(keys.size() == 25);
  CHECK(std::is_sorted(keys.begin(), keys.end()));
  CHECK(keys.front() == "A00");
}

TEST_CASE("each aggregate's event positions are indexed, live and after a restart", "[actors]") {
  sluice::testing::temp_dir dir;
  // One part per aggregate type that has this id.
  auto history = [](engine::engine& e, std::string_view id, size_t skip, size_t limit) {
    std::map<std::string, std::pair<size_t, std::vector<uint64_t>>> by_type;
    for (auto& p : e.aggregate_history(id, skip, limit))
      by_type[std::string(p.type->name())] = {p.total, p.positions};
    return by_type;
  };
  using parts = std::map<std::string, std::pair<size_t, std::vector<uint64_t>>>;
  auto check = [&](engine::engine& e) {
    CHECK(history(e, "O1", 0, 100) == parts{{"order", {3, {1, 3, 4}}}});
    CHECK(history(e, "A1", 0, 100) == parts{{"account", {2, {2, 5}}}});
    CHECK(history(e, "O1", 1, 1) == parts{{"order", {3, {3}}}});
    CHECK(history(e, "O1", 7, 10) == parts{{"order", {3, {}}}});
    CHECK(history(e, "nobody", 0, 10).empty());
    // An order and an account may share an id: their versions stay apart.
    CHECK(history(e, "X", 0, 10) == parts{{"order", {2, {6, 8}}}, {"account", {1, {7}}}});
    CHECK(history(e, "X", 1, 10) == parts{{"order", {2, {8}}}, {"account", {1, {}}}});
  };
  {
    auto e = start(dir.path());
    REQUIRE(send(*e, cmd("order.create", "O1", R"({"customer_id":"C"})")).position == 1);
    REQUIRE(send(*e, cmd("account.open", "A1", R"({"owner":"o"})")).position == 2);
    REQUIRE(send(*e, cmd("order.add_item", "O1", R"({"product":"p","qty":1,"price":1})")).position == 3);
    REQUIRE(send(*e, cmd("order.confirm", "O1", "{}")).position == 4);
    REQUIRE(send(*e, cmd("account.deposit", "A1", R"({"amount":5})")).position == 5);
    REQUIRE(send(*e, cmd("order.create", "X", R"({"customer_id":"C"})")).position == 6);
    REQUIRE(send(*e, cmd("account.open", "X", R"({"owner":"o"})")).position == 7);
    REQUIRE(send(*e, cmd("order.add_item", "X", R"({"product":"p","qty":1,"price":1})")).position == 8);
    // Rejected: nothing indexed.
    REQUIRE(send(*e, cmd("order.confirm", "O1", "{}")).outcome.result == domain::outcome::kind::rejected);
    check(*e);
  }
  auto e = start(dir.path());
  check(*e);
}

TEST_CASE("repeats of a command still on its way to the disk all answer with its position", "[actors]") {
  sluice::testing::temp_dir dir;
  auto e = sluice::testing::start_engine(dir.path(), log::durability::fsync);
  constexpr int k_accounts = 50, k_repeats = 8;
  for (int a = 0; a < k_accounts; ++a)
    REQUIRE(send(*e, cmd("account.open", fmt::format("A{}", a), R"({"owner":"o"})")).outcome.result == kind::accepted);
  thread_local domain::command_decoder decoder{builtin::model().types()};
  std::mutex mu;
  std::map<std::string, std::vector<engine::command_result>> answers;
  std::atomic<int> pending{k_accounts * k_repeats};
  // Every repeat is submitted before any answer is awaited: most arrive
  // while the original waits for its group commit.
  for (int r = 0; r < k_repeats; ++r)
    for (int a = 0; a < k_accounts; ++a) {
      auto id = fmt::format("dep-{}", a);
      auto c = decoder.decode(
          cmd("account.deposit", fmt::format("A{}", a), R"({"amount":1})", fmt::format(R"(,"command_id":"{}")", id)));
      REQUIRE(c);
      e->submit(std::move(*c), [&, id](const engine::command_result& res) {
        std::lock_guard lk(mu);
        answers[id].push_back(res);
        --pending;
      });
    }
  for (int i = 0; i < 10'000 && pending.load() > 0; ++i)
    std::this_thread::sleep_for(1ms);
  REQUIRE(pending.load() == 0);
  std::lock_guard lk(mu);
  for (auto& [id, rs] : answers) {
    INFO(id);
    REQUIRE(rs.size() == k_repeats);
    int accepted = 0;
    for (auto& r : rs) {
      accepted += r.outcome.result == kind::accepted;
      CHECK((r.outcome.result == kind::accepted || r.outcome.result == kind::duplicate));
      CHECK(r.position == rs.front().position);
      CHECK(r.position != 0);
    }
    CHECK(accepted == 1);
  }
  // One event per command id in the log.
  CHECK(e->log().last_position() == static_cast<uint64_t>(2 * k_accounts));
}

TEST_CASE("a recovery that fails is reported by wait_ready, and the engine never turns ready", "[actors]") {
  sluice::testing::temp_dir dir;
  {
    // A record no aggregate type of this build knows.
    auto log = log::event_log::open({dir.path() / "log", log::durability::none});
    REQUIRE(log);
    log::write_batch b;
    REQUIRE(b.add({0, 1, 0, "ledger.posted", "L-1", "", ""}));
    auto appended = (*log)->append_and_wait(std::move(b));
    REQUIRE(appended);
  }
  engine::options o;
  o.model = &builtin::model();
  o.data_dir = dir.path();
  o.durability = log::durability::none;
  o.threads = 1;
  auto e = engine::start(o);
  REQUIRE(e);
  CHECK_FALSE((*e)->wait_ready(std::chrono::seconds(30)));
  CHECK_FALSE((*e)->ready());
  CHECK(send(**e, cmd("account.open", "A", R"({"owner":"o"})")).status == engine::command_status::not_ready);
  // A log that cannot be opened is an error of start() itself.
  std::filesystem::create_directories(dir.path() / "blocked");
  engine::options bad = o;
  bad.data_dir = dir.path() / "blocked";
  { std::ofstream(bad.data_dir / "log") << "a file where the log directory goes"; }
  auto refused = engine::start(bad);
  REQUIRE_FALSE(refused);
  CHECK(refused.error().code == engine::errc::log_open);
}
