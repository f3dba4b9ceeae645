// A child process runs the engine under load and is killed with SIGKILL;
// after a restart every acknowledged command is in the log, and every view
// equals a recomputation from the log.
#include "builtin/builtin.h"
#include "engine/engine.h"

#include "domain/aggregate.h"
#include "domain/command_decoder.h"
#include "engine_fixture.h"
#include "kill_child.h"
#include "temp_dir.h"
#include "view_compare.h"
#include "log/event_log.h"
#include "log/snapshot_store.h"
#include "views/view_shard.h"

#include <catch2/catch.hpp>
#include <simdjson.h>
#include <fmt/format.h>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <future>
#include <map>
#include <random>
#include <thread>

using namespace sluice;
using sluice::testing::recompute;
using sluice::testing::served;
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

enum class churn {
  none,
  /// Aggregates passivate after 2 ms idle and snapshot every 2 events, so
  /// the kill lands among snapshot writes and re-activations.
  snapshots,
  /// Every view shard and the history index checkpoint every 40 events.
  checkpoints,
  /// Both, and small segments with retention: the kill lands among the
  /// snapshots, checkpoints and deletions of retention runs.
  retention,
};

engine::options child_options(const std::filesystem::path& dir, churn c) {
  engine::options o;
  o.model = &builtin::model();
  o.data_dir = dir;
  o.durability = log::durability::fsync;
  o.threads = 2;
  if (c == churn::snapshots || c == churn::retention) {
    o.passivate_after = 2ms;
    o.passivation_tick = 2ms;
    o.snapshot_every = 2;
  }
  if (c == churn::checkpoints || c == churn::retention) {
    o.checkpoint_every = 40;
    o.checkpoint_per_key = 0;
    o.maintenance_tick = 2ms;
  }
  if (c == churn::retention) {
    o.segment_bytes = 16 << 10;
    o.retain_bytes = 32 << 10;
  }
  return o;
}

[[noreturn]] void run_child(const std::filesystem::path& dir, int ack_fd, uint32_t round, churn mode = churn::none) {
  auto o = child_options(dir, mode);
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
    auto acks = sluice::testing::kill_after_acks<ack>(
        300 + rng() % 1500, [&](int fd) { run_child(dir.path(), fd, round, churn::snapshots); });
    acked.insert(acked.end(), acks.begin(), acks.end());
    auto e = sluice::testing::start_engine(child_options(dir.path(), churn::snapshots));
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
    auto send = [&](const std::string& json) { return sluice::testing::send_json(*e, json); };
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

TEST_CASE("SIGKILL among checkpoint writes loses nothing; views from checkpoints and the tail equal the log's",
          "[actors][crash][checkpoints]") {
  temp_dir dir;
  std::vector<ack> acked;
  std::mt19937 rng(13);
  uint64_t resumed = 0; // rounds whose start-up replayed from a checkpoint
  for (uint32_t round = 0; round < 4; ++round) {
    auto acks = sluice::testing::kill_after_acks<ack>(
        300 + rng() % 1500, [&](int fd) { run_child(dir.path(), fd, round, churn::checkpoints); });
    acked.insert(acked.end(), acks.begin(), acks.end());
    auto e = sluice::testing::start_engine(child_options(dir.path(), churn::checkpoints));
    auto m = e->snapshot();
    INFO("round " << round << ": replayed " << m.recovery_events << " events from position " << m.recovery_from);
    CHECK(m.checkpoints_rejected == 0); // a kill mid-write leaves the previous file whole
    resumed += m.recovery_from > 1 ? 1 : 0;
    std::map<uint64_t, std::string> command_at;
    REQUIRE(e->log().read(1, SIZE_MAX, [&](const log::record& r) {
      command_at[r.position] = std::string(r.command_id);
      return true;
    }));
    for (auto& x : acked) {
      auto it = command_at.find(x.position);
      REQUIRE(it != command_at.end());
      REQUIRE(it->second == fmt::format("{}-{}", x.client, x.seq));
    }
    sluice::testing::await_views(*e);
    for (auto view : {"order_summary", "customer_orders", "order_stats", "account_balance"}) {
      INFO(view);
      CHECK(served(*e, view) == recompute(e->log(), view));
    }
  }
  CHECK(resumed >= 3); // every round after the first has checkpoints to start from
}

TEST_CASE("SIGKILL during retention loses nothing acknowledged; start-up is clean and state matches the views",
          "[actors][crash][retention]") {
  temp_dir dir;
  std::vector<ack> acked;
  std::mt19937 rng(17);
  for (uint32_t round = 0; round < 4; ++round) {
    // The kill lands a random number of acks after the child's retention
    // first deleted segments, among its next runs: by then every 16 KiB
    // segment closed starts one.
    uint64_t kept_before = log::retained_from(dir.path() / "log");
    size_t extra = rng() % 1500, cut_at = 0;
    auto acks = sluice::testing::kill_when<ack>(
        [&](size_t n) {
          if (cut_at == 0 && n % 16 == 0 && log::retained_from(dir.path() / "log") > kept_before)
            cut_at = n;
          return cut_at != 0 && n >= cut_at + extra;
        },
        [&](int fd) { run_child(dir.path(), fd, round, churn::retention); });
    acked.insert(acked.end(), acks.begin(), acks.end());
    auto e = sluice::testing::start_engine(child_options(dir.path(), churn::retention));
    auto m = e->snapshot();
    std::map<uint64_t, std::string> command_at;
    auto read_to = e->log().read(1, SIZE_MAX, [&](const log::record& r) {
      command_at[r.position] = std::string(r.command_id);
      return true;
    });
    REQUIRE(read_to);
    // This engine retains too, maybe while the read above ran: what it had
    // deleted by the end of the read is below `first`, and every position
    // from there to the last was read, none skipped.
    uint64_t first = e->log().first_position();
    INFO("round " << round << ": the log starts at " << first << ", ends at " << e->log().last_position());
    CHECK(m.checkpoints_rejected == 0);
    CHECK(m.snapshots_rejected <= 1); // the one record a kill may tear; it is counted
    CHECK(*read_to == e->log().last_position() + 1);
    CHECK(static_cast<uint64_t>(std::distance(command_at.lower_bound(first), command_at.end())) ==
          e->log().last_position() - first + 1);
    sluice::testing::await_views(*e);
    auto summary = served(*e, "order_summary");
    auto balances = served(*e, "account_balance");
    auto send = [&](const std::string& json) { return sluice::testing::send_json(*e, json); };
    std::map<std::string, int> items; // acknowledged add_item per order
    // A client's account takes every third command: a long round pushes its
    // first ones out of the window of 1,000 ids (one more may have been
    // accepted and not acknowledged before the kill).
    std::map<uint32_t, std::vector<uint32_t>> account_seqs; // ascending per client
    for (auto& x : acked)
      if (x.seq == 0 || x.seq % 3 == 1)
        account_seqs[x.client].push_back(x.seq);
    auto in_window = [&](const ack& x) {
      if (x.seq != 0 && x.seq % 3 != 1)
        return true; // an order has two commands
      auto& seqs = account_seqs[x.client];
      auto newer = static_cast<size_t>(seqs.end() - std::upper_bound(seqs.begin(), seqs.end(), x.seq));
      return newer + 1 < domain::k_idempotency_window;
    };
    for (auto& x : acked) {
      INFO("command " << x.client << "-" << x.seq << " at position " << x.position);
      if (x.position >= first) {
        auto it = command_at.find(x.position);
        REQUIRE(it != command_at.end());
        REQUIRE(it->second == fmt::format("{}-{}", x.client, x.seq));
      } else if (in_window(x)) {
        // Its segment is gone; its aggregate's window (in the snapshot) still knows it.
        auto again = send(command_for(x.client, x.seq));
        REQUIRE(again.status == engine::command_status::done);
        CHECK(again.outcome.result == domain::outcome::kind::duplicate);
        CHECK(again.outcome.position == x.position);
      }
      if (x.seq > 0 && x.seq % 3 == 2)
        CHECK(summary.contains(fmt::format("ORD-{}-{}", x.client, x.seq)));
      if (x.seq > 0 && x.seq % 3 == 0)
        ++items[fmt::format("ORD-{}-{}", x.client, x.seq - 1)];
    }
    for (auto& [id, n] : items) {
      INFO(id);
      REQUIRE(summary.contains(id));
      CHECK(summary[id].find(R"("item_count":1)") != std::string::npos);
    }
    // Each account's aggregate (from its snapshot and the tail) agrees with
    // its view: the exact balance can be withdrawn, a cent more cannot.
    simdjson::dom::parser parser;
    for (auto& [id, json] : balances) {
      INFO(id << ": " << json);
      auto doc = parser.parse(json);
      REQUIRE_FALSE(doc.error());
      double balance = doc["balance"].get_double().value();
      uint64_t version = doc["version"].get_uint64().value();
      auto cents = static_cast<int64_t>(balance * 100 + 0.5);
      auto too_much = send(fmt::format(
          R"({{"type":"account.withdraw","aggregate_id":"{}","expected_version":{},"payload":{{"amount":{}.{:02}}}}})",
          id, version, (cents + 1) / 100, (cents + 1) % 100));
      CHECK(too_much.outcome.result == domain::outcome::kind::rejected);
      if (cents == 0)
        continue;
      auto exact = send(fmt::format(
          R"({{"type":"account.withdraw","aggregate_id":"{}","expected_version":{},"payload":{{"amount":{}.{:02}}}}})",
          id, version, cents / 100, cents % 100));
      CHECK(exact.outcome.result == domain::outcome::kind::accepted);
    }
  }
}
