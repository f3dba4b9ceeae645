// The real `sluice serve` binary killed again and again while transfers
// run: each ends once, and no money is made or lost.
#include "client.h"
#include "sluice_process.h"
#include "temp_dir.h"

#include <catch2/catch.hpp>
#include <fmt/format.h>
#include <simdjson.h>

#include <signal.h>
#include <sys/wait.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cmath>
#include <exception>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <vector>

using sluice::testing::http_client;
using namespace sluice::testing::process;
using sluice::testing::ndjson_lines;
using sluice::testing::temp_dir;
using namespace std::chrono_literals;

namespace {

// One event of the log, as the transfers crash test reads it.
struct logged {
  std::string aggregate_id, type, transfer_id;
  int64_t cents = 0;
};

std::vector<logged> read_log(http_client& c) {
  auto r = c.request("GET", "/v1/events?from=1&limit=100000");
  REQUIRE(r.status == 200);
  std::vector<logged> out;
  simdjson::dom::parser p;
  for (auto& line : ndjson_lines(r.body)) {
    auto doc = p.parse(line);
    REQUIRE_FALSE(doc.error());
    logged e;
    e.aggregate_id = std::string(doc["aggregate_id"].get_string().value());
    e.type = std::string(doc["type"].get_string().value());
    std::string_view tid;
    if (doc["data"]["transfer_id"].get(tid) == simdjson::SUCCESS)
      e.transfer_id = std::string(tid);
    double amount = 0;
    if (doc["data"]["amount"].get(amount) == simdjson::SUCCESS)
      e.cents = std::llround(amount * 100);
    out.push_back(std::move(e));
  }
  return out;
}

} // namespace

TEST_CASE("SIGKILL while 1,000 transfers run: each ends once, no money is made or lost",
          "[http][process][crash][transfers]") {
  constexpr int k_accounts = 20, k_transfers = 1000, k_senders = 4, k_min_kills = 20;
  constexpr int64_t k_opening_cents = 50000;
  temp_dir dir;
  auto data = dir.path() / "data";
  uint16_t port = free_port();
  std::mt19937 rng(2026);

  // Open accounts, two closed ones; "NO-*" never exist.
  {
    server_process s(data, port);
    http_client c(port);
    for (int i = 0; i < k_accounts; ++i) {
      REQUIRE(
          c.request("POST", "/v1/commands",
                    fmt::format(R"({{"type":"account.open","aggregate_id":"ACC-{}","payload":{{"owner":"o"}}}})", i))
              .status == 200);
      REQUIRE(c.request("POST", "/v1/commands",
                        fmt::format(R"({{"type":"account.deposit","aggregate_id":"ACC-{}","payload":{{"amount":{}}}}})",
                                    i, k_opening_cents / 100))
                  .status == 200);
    }
    for (int i = 0; i < 2; ++i) {
      REQUIRE(c.request("POST", "/v1/commands",
                        fmt::format(R"({{"type":"account.open","aggregate_id":"CL-{}","payload":{{"owner":"o"}}}})", i))
                  .status == 200);
      REQUIRE(c.request("POST", "/v1/commands",
                        fmt::format(R"({{"type":"account.close","aggregate_id":"CL-{}","payload":{{}}}})", i))
                  .status == 200);
    }
    s.stop(SIGTERM);
  }

  // The transfers: mostly between open accounts, some from or to closed or
  // missing ones, amounts up to 400.00 against balances of 500.00.
  std::vector<std::string> requests;
  auto pick = [&](bool source) {
    int r = static_cast<int>(rng() % 100);
    if (r < (source ? 3 : 6))
      return fmt::format("CL-{}", rng() % 2);
    if (r < (source ? 6 : 12))
      return fmt::format("NO-{}", rng() % 5);
    return fmt::format("ACC-{}", rng() % k_accounts);
  };
  for (int i = 0; i < k_transfers; ++i) {
    auto from = pick(true), to = pick(false);
    while (to == from)
      to = pick(false);
    requests.push_back(fmt::format(
        R"({{"type":"transfer.request","aggregate_id":"T-{}","command_id":"req-{}","payload":{{"from":"{}","to":"{}","amount":{}.{:02}}}}})",
        i, i, from, to, 1 + rng() % 400, rng() % 100));
  }

  // Senders take transfers i ≡ k (mod k_senders) in order, each one again
  // after a kill until it is acknowledged.
  std::vector<int> next(k_senders);
  for (int k = 0; k < k_senders; ++k)
    next[k] = k;
  auto all_sent = [&] { return std::all_of(next.begin(), next.end(), [&](int n) { return n >= k_transfers; }); };
  // Each run is killed after a random number of acknowledged requests, so
  // that the kill lands while the process works on the latest of them
  // (slowed down in most runs).
  int kills = 0, resumed = 0;
  for (int cycle = 0; cycle < 200 && (kills < k_min_kills || !all_sent()); ++cycle) {
    std::vector<std::string> extra;
    if (auto delay = std::array{0, 2, 5}[cycle % 3]; delay > 0)
      extra = {"--drill-delay-process", fmt::format("transfers={}", delay)};
    server_process s(data, port, extra);
    {
      http_client c(port);
      auto m = c.request("GET", "/metrics").body;
      resumed += m.find(R"(sluice_process_unfinished{process="transfers"} 0)") == std::string::npos;
    }
    std::atomic<bool> stop{false};
    std::atomic<int> acked{0};
    int kill_after = 10 + static_cast<int>(rng() % 30);
    std::vector<std::thread> senders;
    for (int k = 0; k < k_senders; ++k)
      senders.emplace_back([&, k] {
        try {
          http_client c(port);
          while (!stop && next[k] < k_transfers) {
            auto r = c.request("POST", "/v1/commands", requests[static_cast<size_t>(next[k])]);
            // Sent again after a kill: the first one's answer, or its id taken.
            bool ok =
                r.status == 200 || (r.status == 422 && r.body.find("transfer already exists") != std::string::npos);
            if (!ok)
              break;
            next[k] += k_senders;
            ++acked;
          }
        } catch (const std::exception&) {
          // killed mid-request: not acknowledged, sent again next time
        }
      });
    for (int i = 0; i < 2000 && acked < kill_after && !all_sent(); ++i)
      std::this_thread::sleep_for(1ms);
    std::this_thread::sleep_for(std::chrono::microseconds(rng() % 5000));
    int status = s.stop(SIGKILL);
    stop = true;
    for (auto& t : senders)
      t.join();
    REQUIRE(WIFSIGNALED(status));
    ++kills;
  }
  REQUIRE(all_sent());
  CHECK(kills >= k_min_kills);
  CHECK(resumed > 0); // some kills landed among the steps of transfers

  // The last start: every transfer runs to its end.
  server_process s(data, port);
  http_client c(port);
  std::map<std::string, std::string> status; // transfer id → completed | failed
  for (int attempt = 0; attempt < 3000; ++attempt) {
    status.clear();
    std::string after;
    for (;;) {
      auto page = c.request("GET", "/v1/views/transfer_status?limit=1000" + (after.empty() ? "" : "&after=" + after));
      REQUIRE(page.status == 200);
      simdjson::dom::parser p;
      simdjson::dom::element doc;
      REQUIRE(p.parse(page.body).get(doc) == simdjson::SUCCESS);
      simdjson::dom::array items;
      REQUIRE(doc["items"].get(items) == simdjson::SUCCESS);
      for (simdjson::dom::element item : items) {
        std::string_view key, st;
        REQUIRE(item["key"].get(key) == simdjson::SUCCESS);
        REQUIRE(item["value"]["status"].get(st) == simdjson::SUCCESS);
        status[std::string(key)] = std::string(st);
      }
      std::string_view n;
      if (doc["next"].get(n) != simdjson::SUCCESS)
        break;
      after = std::string(n);
    }
    if (status.size() == k_transfers && std::all_of(status.begin(), status.end(), [](auto& kv) {
          return kv.second == "completed" || kv.second == "failed";
        }))
      break;
    std::this_thread::sleep_for(10ms);
  }
  REQUIRE(status.size() == k_transfers);
  auto metrics = c.request("GET", "/metrics").body;
  CHECK(metrics.find(R"(sluice_process_unfinished{process="transfers"} 0)") != std::string::npos);

  // The log: at most one event per transfer and step, and what each shows agrees.
  auto events = read_log(c);
  std::map<std::string, std::map<std::string, int>> steps; // transfer → "aggregate type" → count
  std::map<std::string, int64_t> balance;
  for (auto& e : events) {
    if (e.type == "account.deposited")
      balance[e.aggregate_id] += e.cents;
    if (e.type == "account.withdrawn")
      balance[e.aggregate_id] -= e.cents;
    if (e.aggregate_id.starts_with("T-"))
      ++steps[e.aggregate_id][e.type];
    else if (!e.transfer_id.empty())
      ++steps[e.transfer_id][e.aggregate_id + " " + e.type];
  }
  int completed = 0, refunded = 0, insufficient = 0;
  for (auto& [id, ended] : status) {
    INFO(id << " " << ended);
    REQUIRE((ended == "completed" || ended == "failed"));
    auto& st = steps[id];
    for (auto& [step, n] : st) {
      INFO(step);
      CHECK(n == 1);
    }
    int withdrawn = 0, deposited = 0;
    for (auto& [step, n] : st) {
      withdrawn += step.ends_with("account.withdrawn") ? n : 0;
      deposited += step.ends_with("account.deposited") ? n : 0;
    }
    if (ended == "completed") {
      ++completed;
      CHECK(withdrawn == 1);
      CHECK(deposited == 1);
      CHECK(st.count("transfer.refunded") == 0);
    } else if (st.count("transfer.refunded")) {
      ++refunded;
      CHECK(withdrawn == 1);
      CHECK(deposited == 1); // the refund, on the source
    } else {
      insufficient += st.count("transfer.debited") == 0;
      CHECK(withdrawn == 0);
      CHECK(deposited == 0);
    }
  }
  // Every path was taken.
  CHECK(completed > 0);
  CHECK(refunded > 0);
  CHECK(insufficient > 0);

  // No money made or lost: the balances add up to the deposits clients made,
  // each is the log's, and the view agrees.
  int64_t sum = 0;
  for (int i = 0; i < k_accounts; ++i) {
    auto id = fmt::format("ACC-{}", i);
    CHECK(balance[id] >= 0);
    sum += balance[id];
    auto v = c.request("GET",
                       fmt::format("/v1/views/account_balance/{}?min_position={}&timeout_ms=5000", id, events.size()));
    REQUIRE(v.status == 200);
    auto cents = balance[id];
    CHECK(v.body.find(fmt::format(R"("balance":{}.{:02})", cents / 100, cents % 100)) != std::string::npos);
  }
  CHECK(sum == k_accounts * k_opening_cents);
  CHECK(balance["CL-0"] == 0);
  CHECK(balance["CL-1"] == 0);
  s.stop(SIGTERM);
}
