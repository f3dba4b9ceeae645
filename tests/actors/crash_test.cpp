// A child process runs the engine under load and is killed with SIGKILL;
// after a restart every acknowledged command is in the log, and every view
// equals a recomputation from the log.
#include "builtin/builtin.h"
#include "engine/engine.h"

#include "domain/command_decoder.h"
#include "engine_fixture.h"
#include "kill_child.h"
#include "temp_dir.h"
#include "log/snapshot_store.h"
#include "views/view_shard.h"

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <future>
#include <map>
#include <random>
#include <thread>

using namespace sluice;
using sluice::testing::temp_dir;
using namespace std::chrono_literals;

namespace {

struct ack {
  uint64_t position;
  uint32_t client;
  uint32_t seq;
};

std::string command_for(uint32_t client, uint32_t seq) {
  // Each client owns an account and its orders; ids tie each event to its command.
  auto id = fmt::format("{}-{}", client, seq);
  if (seq == 0)
    return fmt::format(
        R"({{"type":"account.open","aggregate_id":"ACC-{}","command_id":"{}","payload":{{"owner":"o"}}}})", client, id);
  switch (seq % 3) {
    case 1:
      return fmt::format(
          R"({{"type":"account.deposit","aggregate_id":"ACC-{}","command_id":"{}","payload":{{"amount":2.5}}}})",
          client, id);
    case 2:
      return fmt::format(
          R"({{"type":"order.create","aggregate_id":"ORD-{}","command_id":"{}","payload":{{"customer_id":"C-{}"}}}})",
          id, id, client % 3);
    default:
      return fmt::format(
          R"({{"type":"order.add_item","aggregate_id":"ORD-{}-{}","command_id":"{}","payload":{{"product":"P","qty":1,"price":1.5}}}})",
          client, seq - 1, id);
  }
}

// Churn: aggregates passivate after 2 ms idle and snapshot every 2 events,
// so the kill lands among snapshot writes and re-activations.
engine::options child_options(const std::filesystem::path& dir, bool churn) {
  engine::options o;
  o.model = &builtin::model();
  o.data_dir = dir;
  o.durability = log::durability::fsync;
  o.threads = 2;
  if (churn) {
    o.passivate_after = 2ms;
    o.passivation_tick = 2ms;
    o.snapshot_every = 2;
  }
  return o;
}

[[noreturn]] void run_child(const std::filesystem::path& dir, int ack_fd, uint32_t round, bool churn = false) {
  auto o = child_options(dir, churn);
  auto e = engine::start(o);
  if (!e || !(*e)->wait_ready(30s))
    _exit(3);
  std::vector<std::thread> clients;
  for (uint32_t c = 0; c < 8; ++c)
    clients.emplace_back([&, c] {
      domain::command_decoder decoder{builtin::model().types()};
      uint32_t client = round * 8 + c; // fresh accounts each round: every command is accepted
      for (uint32_t seq = 0;; ++seq) {
        auto cmd = decoder.decode(command_for(client, seq));
        if (!cmd)
          _exit(4);
        std::promise<engine::command_result> p;
        auto f = p.get_future();
        (*e)->submit(std::move(*cmd), [&p](engine::command_result r) { p.set_value(std::move(r)); });
        auto r = f.get();
        if (r.status != engine::command_status::done || r.outcome.result != domain::outcome::kind::accepted)
          _exit(5);
        ack a{r.position, client, seq};
        if (::write(ack_fd, &a, sizeof a) != sizeof a)
          _exit(6);
      }
    });
  std::this_thread::sleep_for(30s);
  _exit(7);
}

// The views as a fresh replay of the whole log computes them.
std::map<std::string, std::string> recompute(const log::event_log& log, std::string_view view) {
  std::vector<views::view_shard> shards;
  for (auto& def : builtin::model().views())
    if (def.name == view)
      shards.emplace_back(def.make(0, 1));
  views::event_batch batch;
  REQUIRE(log.read(1, SIZE_MAX, [&](const log::record& r) {
    batch.add(r);
    return true;
  }));
  std::vector<views::view_change> changes;
  shards[0].apply(batch, changes);
  std::map<std::string, std::string> out;
  std::vector<std::pair<std::string, views::view_shard::entry>> all;
  shards[0].list("", SIZE_MAX, all);
  for (auto& [k, e] : all)
    out[k] = *e.value;
  return out;
}

std::map<std::string, std::string> served(engine::engine& e, std::string_view view) {
  std::map<std::string, std::string> out;
  std::string after;
  for (;;) {
    std::promise<engine::view_page> p;
    auto f = p.get_future();
    REQUIRE(e.list_view(view, after, 1000, [&p](engine::view_page pg) { p.set_value(std::move(pg)); }));
    auto page = f.get();
    for (auto& it : page.items)
      out[it.key] = *it.value;
    if (!page.more)
      return out;
    after = page.items.back().key;
  }
}

} // namespace

TEST_CASE("SIGKILL under load loses no acknowledged command and views equal the log's", "[actors][crash]") {
  temp_dir dir;
  std::vector<ack> acked;
  std::mt19937 rng(7);
  for (uint32_t round = 0; round < 3; ++round) {
    auto acks =
        sluice::testing::kill_after_acks<ack>(200 + rng() % 2000, [&](int fd) { run_child(dir.path(), fd, round); });
    acked.insert(acked.end(), acks.begin(), acks.end());

    auto e = sluice::testing::start_engine(dir.path(), log::durability::fsync);
    auto& log = e->log();
    std::map<uint64_t, std::string> command_at;
    REQUIRE(log.read(1, SIZE_MAX, [&](const log::record& r) {
      command_at[r.position] = std::string(r.command_id);
      return true;
    }));
    INFO("round " << round << ": " << acked.size() << " acknowledged, log ends at " << log.last_position());
    for (auto& x : acked) {
      auto it = command_at.find(x.position);
      REQUIRE(it != command_at.end());
      REQUIRE(it->second == fmt::format("{}-{}", x.client, x.seq));
    }
    // Wait for the views to reflect the whole log, then compare with a fresh replay.
    std::promise<void> p;
    auto f = p.get_future();
    e->read_view("order_stats", "all", log.last_position(), 30s, [&](const engine::view_read&) { p.set_value(); });
    f.wait();
    for (auto view : {"order_summary", "customer_orders", "order_stats", "account_balance"}) {
      INFO(view);
      CHECK(served(*e, view) == recompute(log, view));
    }
  }
}

TEST_CASE("SIGKILL among snapshot writes and passivations loses nothing; snapshots rebuild the log's state",
          "[actors][crash][snapshots]") {
  temp_dir dir;
  std::vector<ack> acked;
  std::mt19937 rng(11);
  for (uint32_t round = 0; round < 3; ++round) {
    auto acks = sluice::testing::kill_after_acks<ack>(300 + rng() % 1500,
                                                      [&](int fd) { run_child(dir.path(), fd, round, true); });
    acked.insert(acked.end(), acks.begin(), acks.end());
    auto e = sluice::testing::start_engine(child_options(dir.path(), true));
    auto& log = e->log();
    std::map<uint64_t, std::string> command_at;
    std::map<std::string, std::pair<uint64_t, int64_t>> accounts; // version, balance in cents
    REQUIRE(log.read(1, SIZE_MAX, [&](const log::record& r) {
      command_at[r.position] = std::string(r.command_id);
      if (r.aggregate_id.starts_with("ACC-")) {
        auto& a = accounts[std::string(r.aggregate_id)];
        a.first = r.version;
        if (r.type == "account.deposited")
          a.second += r.command_id.empty() ? 100 : 250; // the checks' deposits below carry no id
        else if (r.type == "account.withdrawn")
          a.second = 0; // the checks below withdraw everything
      }
      return true;
    }));
    INFO("round " << round << ": " << acked.size() << " acknowledged");
    CHECK(std::filesystem::file_size(log::snapshot_store::file_name(dir.path() / "snapshots", 1)) > 0);
    for (auto& x : acked) {
      auto it = command_at.find(x.position);
      REQUIRE(it != command_at.end());
      REQUIRE(it->second == fmt::format("{}-{}", x.client, x.seq));
    }
    // Each account comes back (from a snapshot where one was written) with
    // the log's version and balance, and its last id in the window.
    domain::command_decoder decoder{builtin::model().types()};
    auto send = [&](const std::string& json) {
      auto cmd = decoder.decode(json);
      REQUIRE(cmd);
      std::promise<engine::command_result> p;
      auto f = p.get_future();
      e->submit(std::move(*cmd), [&p](engine::command_result r) { p.set_value(std::move(r)); });
      return f.get();
    };
    for (auto& [id, a] : accounts) {
      INFO(id);
      auto d = send(fmt::format(
          R"({{"type":"account.deposit","aggregate_id":"{}","expected_version":{},"payload":{{"amount":1.00}}}})", id,
          a.first));
      CHECK(d.outcome.result == domain::outcome::kind::accepted);
      a.second += 100;
      auto too_much =
          send(fmt::format(R"({{"type":"account.withdraw","aggregate_id":"{}","payload":{{"amount":{}.{:02}}}}})", id,
                           (a.second + 1) / 100, (a.second + 1) % 100));
      CHECK(too_much.outcome.result == domain::outcome::kind::rejected);
      auto r = send(fmt::format(R"({{"type":"account.withdraw","aggregate_id":"{}","payload":{{"amount":{}.{:02}}}}})",
                                id, a.second / 100, a.second % 100));
      CHECK(r.outcome.result == domain::outcome::kind::accepted);
      CHECK(r.outcome.version == a.first + 2);
    }
  }
}
