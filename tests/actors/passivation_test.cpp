// Passivation (SPEC §9): aggregates leave memory when idle or beyond the live
// cap and come back from their snapshot and the log with every guarantee of
// SPEC §4: state, version, expected_version, the idempotency window of 1,000
// ids, serialization of their commands.
#include "builtin/builtin.h"
#include "engine/engine.h"

#include "base/bytes.h"
#include "base/checksum.h"
#include "domain/command_decoder.h"
#include "log/snapshot_store.h"
#include "engine_fixture.h"
#include "temp_dir.h"

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <fstream>
#include <future>
#include <iterator>
#include <map>
#include <random>
#include <thread>

using namespace sluice;
using sluice::testing::temp_dir;
using namespace std::chrono_literals;
using kind = domain::outcome::kind;

namespace {

engine::command_result send(engine::engine& e, const std::string& json) { return sluice::testing::send_json(e, json); }

std::string deposit(std::string_view account, std::string_view command_id, std::string_view amount = "1.25",
                    std::string_view extra = "") {
  return fmt::format(
      R"({{"type":"account.deposit","aggregate_id":"{}","command_id":"{}","payload":{{"amount":{}}}{}}})", account,
      command_id, amount, extra);
}

std::string open_account(std::string_view account) {
  return fmt::format(R"({{"type":"account.open","aggregate_id":"{}","payload":{{"owner":"o"}}}})", account);
}

std::string withdraw(std::string_view account, std::string_view amount) {
  return fmt::format(R"({{"type":"account.withdraw","aggregate_id":"{}","payload":{{"amount":{}}}}})", account, amount);
}

// Waits until no aggregate actor is live (every one passivated).
void wait_all_passivated(engine::engine& e) {
  for (int i = 0; i < 500 && e.snapshot().aggregates_live > 0; ++i)
    std::this_thread::sleep_for(10ms);
  REQUIRE(e.snapshot().aggregates_live == 0);
}

// Passivation hands the snapshot to the writer's thread: it lands a moment later.
uint64_t snapshots_written(engine::engine& e, uint64_t at_least) {
  for (int i = 0; i < 500 && e.snapshot().snapshots_written < at_least; ++i)
    std::this_thread::sleep_for(10ms);
  return e.snapshot().snapshots_written;
}

} // namespace

TEST_CASE("an idle aggregate passivates and comes back with its state, version and window", "[actors][passivation]") {
  bool snapshots = GENERATE(true, false);
  INFO("snapshots " << snapshots);
  temp_dir dir;
  auto o = sluice::testing::churning(dir.path(), 20ms);
  o.snapshots = snapshots;
  auto e = sluice::testing::start_engine(o);
  REQUIRE(send(*e, open_account("ACC-1")).outcome.result == kind::accepted);
  auto first = send(*e, deposit("ACC-1", "d-1", "10.00"));
  REQUIRE(first.outcome.result == kind::accepted);
  REQUIRE(send(*e, deposit("ACC-1", "d-2", "5.00")).outcome.result == kind::accepted);
  wait_all_passivated(*e);
  auto m = e->snapshot();
  CHECK(m.passivations >= 1);
  CHECK(m.aggregates_known == 1);
  CHECK(snapshots_written(*e, snapshots ? 1 : 0) == (snapshots ? 1u : 0u));

  // A repeat answers with the original's figures, not a new deposit. It
  // brings the aggregate back once (a slow machine may have passivated it
  // between the first commands too: count from here).
  auto activations = e->snapshot().activations;
  auto again = send(*e, deposit("ACC-1", "d-1", "10.00"));
  CHECK(again.outcome.result == kind::duplicate);
  CHECK(again.position == first.position);
  CHECK(again.outcome.version == first.outcome.version);
  CHECK(e->snapshot().activations == activations + 1);
  wait_all_passivated(*e);

  // expected_version sees the version it left with.
  auto stale = send(*e, deposit("ACC-1", "d-3", "1.00", R"(,"expected_version":2)"));
  CHECK(stale.outcome.result == kind::conflict);
  CHECK(stale.outcome.version == 3);
  wait_all_passivated(*e);
  CHECK(send(*e, deposit("ACC-1", "d-3", "1.00", R"(,"expected_version":3)")).outcome.result == kind::accepted);
  wait_all_passivated(*e);

  // And the state: the balance is 16.00 exactly.
  CHECK(send(*e, withdraw("ACC-1", "16.01")).outcome.result == kind::rejected);
  wait_all_passivated(*e);
  auto all = send(*e, withdraw("ACC-1", "16.00"));
  CHECK(all.outcome.result == kind::accepted);
  CHECK(all.outcome.version == 5);
}

TEST_CASE("the window of 1,000 ids holds across passivation and restart", "[actors][passivation]") {
  bool snapshots = GENERATE(true, false);
  INFO("snapshots " << snapshots);
  temp_dir dir;
  auto o = sluice::testing::churning(dir.path(), 20ms);
  o.snapshots = snapshots;
  o.snapshot_every = 150; // several snapshots over the run, none at its end
  std::vector<uint64_t> positions;
  {
    auto e = sluice::testing::start_engine(o);
    REQUIRE(send(*e, open_account("ACC-W")).outcome.result == kind::accepted);
    for (int i = 0; i < 1100; ++i) {
      auto r = send(*e, deposit("ACC-W", fmt::format("w-{}", i)));
      REQUIRE(r.outcome.result == kind::accepted);
      positions.push_back(r.position);
    }
    wait_all_passivated(*e);
    if (snapshots)
      CHECK(snapshots_written(*e, 7) >= 7);
    // The last 1,000 are remembered, in order; the first 100 have left.
    for (int i = 100; i < 1100; i += 37) {
      auto r = send(*e, deposit("ACC-W", fmt::format("w-{}", i)));
      REQUIRE(r.outcome.result == kind::duplicate);
      CHECK(r.position == positions[static_cast<size_t>(i)]);
    }
  }
  // After a restart (from the snapshot written at passivation, or the log).
  auto e = sluice::testing::start_engine(o);
  auto r = send(*e, deposit("ACC-W", "w-1099"));
  CHECK(r.outcome.result == kind::duplicate);
  CHECK(r.position == positions.back());
  // An id that had left the window is new again, and it pushes w-100 out.
  CHECK(send(*e, deposit("ACC-W", "w-5")).outcome.result == kind::accepted);
  wait_all_passivated(*e);
  CHECK(send(*e, deposit("ACC-W", "w-100")).outcome.result == kind::accepted);
  CHECK(send(*e, deposit("ACC-W", "w-102")).outcome.result == kind::duplicate); // w-101 left for w-100
}

TEST_CASE("commands racing passivation are decided one at a time, in order, none lost", "[actors][passivation]") {
  temp_dir dir;
  auto o = sluice::testing::churning(dir.path(), 1ms);
  o.snapshot_every = 3;
  auto e = sluice::testing::start_engine(o);
  constexpr int k_clients = 6, k_commands = 150;
  for (int a = 0; a < 3; ++a)
    REQUIRE(send(*e, open_account(fmt::format("ACC-R{}", a))).outcome.result == kind::accepted);
  std::vector<std::thread> clients;
  std::atomic<int> failures{0};
  for (int c = 0; c < k_clients; ++c)
    clients.emplace_back([&, c] {
      std::mt19937 rng(static_cast<unsigned>(c));
      auto account = fmt::format("ACC-R{}", c % 3); // two clients per account
      for (int i = 0; i < k_commands; ++i) {
        auto id = fmt::format("r{}-{}", c, i);
        auto r = send(*e, deposit(account, id, "0.01"));
        if (r.status != engine::command_status::done || r.outcome.result != kind::accepted)
          ++failures;
        // Now and then a repeat at once (it may still be in flight), and a pause that lets it passivate.
        if (rng() % 4 == 0 && send(*e, deposit(account, id, "0.01")).outcome.result != kind::duplicate)
          ++failures;
        if (rng() % 3 == 0)
          std::this_thread::sleep_for(std::chrono::microseconds(rng() % 3000));
      }
    });
  for (auto& t : clients)
    t.join();
  CHECK(failures == 0);
  CHECK(e->snapshot().passivations > 3);
  CHECK(e->snapshot().activations > 0); // at least one came back while commands raced it (fewer under sanitizers)
  // The log holds each account's events at versions 1, 2, 3 … with no gap or repeat.
  std::map<std::string, uint64_t> versions;
  std::map<std::string, int> deposits;
  REQUIRE(e->log().read(1, SIZE_MAX, [&](const log::record& r) {
    auto& v = versions[std::string(r.aggregate_id)];
    CHECK(r.version == v + 1);
    v = r.version;
    if (r.type == "account.deposited")
      ++deposits[std::string(r.aggregate_id)];
    return true;
  }));
  // The state has every deposit exactly once.
  for (int a = 0; a < 3; ++a) {
    auto account = fmt::format("ACC-R{}", a);
    wait_all_passivated(*e);
    auto cents = deposits[account];
    CHECK(send(*e, withdraw(account, fmt::format("{}.{:02}", (cents + 1) / 100, (cents + 1) % 100))).outcome.result ==
          kind::rejected);
    CHECK(send(*e, withdraw(account, fmt::format("{}.{:02}", cents / 100, cents % 100))).outcome.result ==
          kind::accepted);
  }
}

TEST_CASE("live aggregates beyond the cap are passivated, least recently used first", "[actors][passivation]") {
  temp_dir dir;
  auto o = sluice::testing::churning(dir.path(), 0ms);
  o.passivation_tick = 20ms;
  o.max_live_aggregates = 10;
  auto e = sluice::testing::start_engine(o);
  for (int i = 0; i < 90; ++i)
    REQUIRE(send(*e, open_account(fmt::format("ACC-{}", i))).outcome.result == kind::accepted);
  std::this_thread::sleep_for(50ms);
  for (int i = 90; i < 100; ++i)
    REQUIRE(send(*e, open_account(fmt::format("ACC-{}", i))).outcome.result == kind::accepted);
  for (int i = 0; i < 200 && e->snapshot().aggregates_live > 10; ++i)
    std::this_thread::sleep_for(10ms);
  CHECK(e->snapshot().aggregates_live <= 10);
  CHECK(e->snapshot().aggregates_known == 100);
  // The newest stayed: using them activates nothing; the oldest come back.
  auto before = e->snapshot().activations;
  for (int i = 90; i < 100; ++i)
    REQUIRE(send(*e, deposit(fmt::format("ACC-{}", i), "n")).outcome.version == 2);
  CHECK(e->snapshot().activations == before);
  for (int i = 0; i < 5; ++i)
    REQUIRE(send(*e, deposit(fmt::format("ACC-{}", i), "o")).outcome.version == 2);
  CHECK(e->snapshot().activations == before + 5);
}

TEST_CASE("a snapshot that does not fit is refused, counted, and the log used instead",
          "[actors][passivation][snapshots]") {
  // Each damage keeps the record's checksum valid: only the checks behind it can refuse it.
  auto damage = GENERATE(as<std::string>{}, "fingerprint", "body", "position", "version");
  INFO(damage);
  temp_dir dir;
  // Idle long enough that a slow machine does not passivate between the
  // first commands too: the test damages the one snapshot the last takes.
  auto o = sluice::testing::churning(dir.path(), 500ms);
  {
    auto e = sluice::testing::start_engine(o);
    REQUIRE(send(*e, open_account("ACC-S")).outcome.result == kind::accepted);
    REQUIRE(send(*e, deposit("ACC-S", "s-1", "7.00")).outcome.result == kind::accepted);
    REQUIRE(send(*e, deposit("ACC-S", "s-2", "3.00")).outcome.result == kind::accepted);
    wait_all_passivated(*e);
    REQUIRE(snapshots_written(*e, 1) == 1);
  }
  auto file = log::snapshot_store::file_name(dir.path() / "snapshots", 1);
  std::string rec;
  {
    std::ifstream in(file, std::ios::binary);
    rec.assign(std::istreambuf_iterator<char>(in), {});
  }
  REQUIRE(rec.size() == load_u32(rec.data() + 4));
  if (damage == "fingerprint")
    store_u64(rec.data() + 16, load_u64(rec.data() + 16) ^ 1);
  else if (damage == "position")
    store_u64(rec.data() + 32, load_u64(rec.data() + 32) + 1);
  else if (damage == "version")
    store_u64(rec.data() + 24, 2); // an older version, but its body says 3
  else
    rec.back() = '\xff'; // the state's last byte: no longer a valid varint end
  store_u64(rec.data() + 8, checksum64(rec.data() + 16, rec.size() - 16));
  {
    std::ofstream out(file, std::ios::binary | std::ios::trunc);
    out.write(rec.data(), static_cast<std::streamsize>(rec.size()));
  }
  auto e = sluice::testing::start_engine(o);
  // Rebuilt from the log: the balance is 10.00, the window has both ids.
  CHECK(send(*e, deposit("ACC-S", "s-2", "3.00")).outcome.result == kind::duplicate);
  CHECK(e->snapshot().snapshots_rejected == 1);
  CHECK(send(*e, withdraw("ACC-S", "10.01")).outcome.result == kind::rejected);
  auto all = send(*e, withdraw("ACC-S", "10.00"));
  CHECK(all.outcome.result == kind::accepted);
  CHECK(all.outcome.version == 4);
}

TEST_CASE("deleting the snapshots loses nothing", "[actors][passivation][snapshots]") {
  temp_dir dir;
  auto o = sluice::testing::churning(dir.path(), 20ms);
  o.snapshot_every = 2;
  {
    auto e = sluice::testing::start_engine(o);
    REQUIRE(send(*e, open_account("ACC-D")).outcome.result == kind::accepted);
    for (int i = 0; i < 9; ++i)
      REQUIRE(send(*e, deposit("ACC-D", fmt::format("d-{}", i), "1.00")).outcome.result == kind::accepted);
    wait_all_passivated(*e);
    CHECK(snapshots_written(*e, 4) >= 4);
  }
  std::filesystem::remove_all(dir.path() / "snapshots");
  auto e = sluice::testing::start_engine(o);
  CHECK(send(*e, deposit("ACC-D", "d-8", "1.00")).outcome.result == kind::duplicate);
  CHECK(send(*e, withdraw("ACC-D", "9.00")).outcome.version == 11);
}

TEST_CASE("memory is handed back once after recovery, then after many passivations, not after a few",
          "[actors][passivation]") {
  temp_dir dir;
  auto o = sluice::testing::churning(dir.path(), 20ms);
  o.maintenance_tick = 5ms;
  auto e = sluice::testing::start_engine(o);
  auto open_many = [&](int from, int to) {
    domain::command_decoder decoder{builtin::model().types()};
    std::vector<std::future<engine::command_result>> answers;
    for (int i = from; i < to; ++i) {
      auto cmd = decoder.decode(open_account(fmt::format("ACC-{}", i)));
      REQUIRE(cmd);
      auto p = std::make_shared<std::promise<engine::command_result>>();
      answers.push_back(p->get_future());
      e->submit(std::move(*cmd), [p](engine::command_result r) { p->set_value(std::move(r)); });
    }
    for (auto& a : answers)
      REQUIRE(a.get().outcome.result == kind::accepted);
  };
  // Recovery's batches are handed back once the views hold what it replayed.
  for (int i = 0; i < 500 && e->snapshot().memory_trims == 0; ++i)
    std::this_thread::sleep_for(10ms);
  REQUIRE(e->snapshot().memory_trims == 1);
  open_many(0, 100);
  wait_all_passivated(*e);
  std::this_thread::sleep_for(100ms);
  CHECK(e->snapshot().memory_trims == 1); // a hundred: not worth a walk of the heap yet
  open_many(100, 20000);
  wait_all_passivated(*e);
  for (int i = 0; i < 500 && e->snapshot().memory_trims == 1; ++i)
    std::this_thread::sleep_for(10ms);
  CHECK(e->snapshot().memory_trims >= 2);
  CHECK(e->snapshot().passivations >= 20000);
}
