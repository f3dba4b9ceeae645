// `sluice serve --cluster` (SPEC §14) on a real three-server JetStream
// cluster the test starts: acknowledged commands outlive a kill -9 of the
// node and the loss of its data directory; the flags that cannot run exit 2.
#include "client.h"
#include "nats_cluster.h"
#include "sluice_process.h"
#include "temp_dir.h"

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <signal.h>
#include <sys/wait.h>

#include <atomic>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

using sluice::testing::http_client;
using sluice::testing::json_field;
using sluice::testing::nats_cluster;
using sluice::testing::ndjson_lines;
using namespace sluice::testing::process;
using sluice::testing::temp_dir;

namespace {

std::string create_order(int i) {
  return fmt::format(
      R"({{"type":"order.create","aggregate_id":"ORD-{}","command_id":"c-{}","payload":{{"customer_id":"C{}"}}}})", i,
      i, i % 7);
}

} // namespace

TEST_CASE("a cluster node killed with -9 loses no acknowledged command, even with its data directory",
          "[cluster][process]") {
  nats_cluster nats;
  temp_dir dir;
  uint16_t port = free_port();
  std::vector<std::string> flags{"--cluster", nats.urls(), "--node", "a"};
  std::mutex mu;
  std::map<std::string, uint64_t> acked; // aggregate id → position
  {
    server_process node(dir.path() / "first", port, flags);
    std::atomic<int> next{0};
    std::atomic<bool> stop{false};
    std::vector<std::thread> clients;
    for (int t = 0; t < 4; ++t)
      clients.emplace_back([&] {
        try {
          http_client c(port);
          while (!stop) {
            int i = next++;
            auto r = c.request("POST", "/v1/commands", create_order(i));
            if (r.status == 200 && json_field(r.body, "ok") == "true") {
              std::lock_guard lk(mu);
              acked[fmt::format("ORD-{}", i)] = std::stoull(json_field(r.body, "position"));
            }
          }
        } catch (const std::exception&) {
          // the connection died with the server
        }
      });
    while (true) {
      {
        std::lock_guard lk(mu);
        if (acked.size() >= 300)
          break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    node.stop(SIGKILL); // commands in flight
    stop = true;
    for (auto& t : clients)
      t.join();
  }
  // A new data directory: everything comes back from the stream.
  server_process again(dir.path() / "second", port, flags);
  http_client c(port);
  auto r = c.request("GET", "/v1/events?from=1&limit=100000");
  REQUIRE(r.status == 200);
  std::map<std::string, uint64_t> stored;
  uint64_t expect = 1;
  for (auto& line : ndjson_lines(r.body)) {
    if (line.empty())
      continue;
    CHECK(std::stoull(json_field(line, "position")) == expect++);               // from 1, no gaps
    CHECK(stored.emplace(json_field(line, "aggregate_id"), expect - 1).second); // each once
  }
  INFO("acknowledged " << acked.size() << ", stored " << stored.size());
  for (auto& [id, position] : acked) {
    auto it = stored.find(id);
    REQUIRE(it != stored.end());
    CHECK(it->second == position);
  }
  // And it takes commands again, after what the stream holds.
  auto more = c.request("POST", "/v1/commands", create_order(1'000'000));
  REQUIRE(more.status == 200);
  CHECK(std::stoull(json_field(more.body, "position")) == stored.size() + 1);
}

TEST_CASE("every node follows the stream: another node's events reach its views, feed and histories",
          "[cluster][process]") {
  nats_cluster nats;
  temp_dir dir;
  uint16_t pa = free_port(), pb = free_port();
  server_process a(dir.path() / "a", pa, {"--cluster", nats.urls(), "--node", "a"});
  http_client ca(pa);
  auto first = ca.request("POST", "/v1/commands", create_order(1));
  REQUIRE(first.status == 200);
  // b claims every partition at start: from here on a only reads.
  server_process b(dir.path() / "b", pb, {"--cluster", nats.urls(), "--node", "b"});
  http_client cb(pb);
  std::string last;
  for (int i = 2; i <= 40; ++i) {
    auto r = cb.request("POST", "/v1/commands", create_order(i));
    REQUIRE(r.status == 200);
    last = json_field(r.body, "position");
  }
  auto item = cb.request(
      "POST", "/v1/commands",
      R"({"type":"order.add_item","aggregate_id":"ORD-1","command_id":"i-1","payload":{"product":"p","qty":2,"price":1.5}})");
  REQUIRE(item.status == 200);
  auto at = json_field(item.body, "position");
  CHECK(std::stoull(at) > std::stoull(last));

  // Read-your-writes on the other node: a's view waits for b's position.
  auto view = ca.request("GET", "/v1/views/order_summary/ORD-1?min_position=" + at + "&timeout_ms=5000");
  REQUIRE(view.status == 200);
  auto value = json_field(view.body, "value");
  CHECK(json_field(value, "item_count") == "2");
  CHECK(json_field(value, "version") == "2");
  CHECK(json_field(view.body, "position") == at);
  auto other = ca.request("GET", "/v1/views/order_summary/ORD-40?min_position=" + at + "&timeout_ms=5000");
  REQUIRE(other.status == 200);
  CHECK(json_field(json_field(other.body, "value"), "customer_id") == "C5");
  // The same events at the same positions on both nodes, and the histories.
  auto ea = ca.request("GET", "/v1/events?from=1&limit=1000");
  auto eb = cb.request("GET", "/v1/events?from=1&limit=1000");
  REQUIRE(ea.status == 200);
  CHECK(ndjson_lines(ea.body).size() == 41);
  CHECK(ea.body == eb.body);
  auto ha = ca.request("GET", "/v1/aggregates/ORD-1/events");
  REQUIRE(ha.status == 200);
  CHECK(ha.body == cb.request("GET", "/v1/aggregates/ORD-1/events").body);

  // a decided ORD-1's first command itself; its state is behind the
  // stream now, and it no longer owns the partition: refused, never ok.
  auto stale = ca.request(
      "POST", "/v1/commands",
      R"({"type":"order.add_item","aggregate_id":"ORD-1","command_id":"i-2","payload":{"product":"q","qty":1,"price":1}})");
  CHECK(stale.status != 200);
  CHECK(json_field(stale.body, "ok") != "true");
  // b still decides on the whole history: the repeat of i-1 is a duplicate.
  auto again = cb.request(
      "POST", "/v1/commands",
      R"({"type":"order.add_item","aggregate_id":"ORD-1","command_id":"i-1","payload":{"product":"p","qty":2,"price":1.5}})");
  REQUIRE(again.status == 200);
  CHECK(json_field(again.body, "position") == at);
  CHECK(ndjson_lines(cb.request("GET", "/v1/events?from=1&limit=1000").body).size() == 41);

  // Both nodes see b owning every partition, and each other.
  for (auto* c : {&ca, &cb}) {
    auto cl = c->request("GET", "/v1/admin/cluster");
    REQUIRE(cl.status == 200);
    INFO(cl.body);
    CHECK(json_field(cl.body, "partition_count") == "64");
    CHECK(json_field(json_field(cl.body, "stream"), "last_position") == "41");
    CHECK(json_field(json_field(cl.body, "stream"), "replicas") == "3");
    CHECK(cl.body.find(R"({"partition":0,"owner":"b",)") != std::string::npos);
    CHECK(cl.body.find(R"({"partition":63,"owner":"b",)") != std::string::npos);
    CHECK(cl.body.find(R"("owner":"a")") == std::string::npos);
    CHECK(cl.body.find(R"({"node":"a","role":"writer","partitions":0,)") != std::string::npos);
    CHECK(cl.body.find(R"({"node":"b","role":"writer","partitions":64,)") != std::string::npos);
  }
  auto ma = ca.request("GET", "/metrics").body, mb = cb.request("GET", "/metrics").body;
  CHECK(ma.find("sluice_cluster_partitions_owned 0\n") != std::string::npos);
  CHECK(mb.find("sluice_cluster_partitions_owned 64\n") != std::string::npos);
  CHECK(ma.find("sluice_cluster_foreign_events_total 40\n") != std::string::npos); // b's 40 commands, one event each
  CHECK(mb.find("sluice_cluster_foreign_events_total 0\n") != std::string::npos);
  CHECK(ma.find("sluice_cluster_fenced_total 1\n") != std::string::npos);          // the stale ORD-1 command
  CHECK(ma.find("sluice_cluster_lease_changes_total 128\n") != std::string::npos); // a's claim, then b's
  CHECK(mb.find("sluice_cluster_publish_duration_seconds_count") != std::string::npos);
}

TEST_CASE("cluster flags that cannot run exit 2 naming why", "[cluster][process]") {
  nats_cluster nats;
  temp_dir dir;
  auto no_node = run_sluice({"serve", "--data", (dir.path() / "x").string(), "--cluster", nats.urls()}, dir.path());
  CHECK(no_node.status == 2);
  CHECK(no_node.err.find("--node") != std::string::npos);
  auto bad_name = run_sluice(
      {"serve", "--data", (dir.path() / "y").string(), "--cluster", nats.urls(), "--node", "Not A Name"}, dir.path());
  CHECK(bad_name.status == 2);
  {
    uint16_t port = free_port();
    server_process first(dir.path() / "a", port, {"--cluster", nats.urls(), "--node", "a"}); // creates 64
  }
  auto other =
      run_sluice({"serve", "--data", (dir.path() / "b").string(), "--listen", fmt::format("127.0.0.1:{}", free_port()),
                  "--cluster", nats.urls(), "--node", "b", "--partitions", "32"},
                 dir.path());
  INFO("stderr: " << other.err);
  CHECK(other.status == 2);
  CHECK(other.err.find("--partitions 32 differs from the cluster's 64") != std::string::npos);
}

TEST_CASE("group commits are split below the servers' max_payload; a command past it alone is refused",
          "[cluster][process]") {
  nats_cluster nats("2KB"); // groups of 1 KiB: about two commands each
  temp_dir dir;
  uint16_t port = free_port();
  server_process node(dir.path() / "a", port, {"--cluster", nats.urls(), "--node", "a"});
  // Eight clients, batches of 100 commands of ~400 bytes: each drain of
  // the journal holds far more than 1 KiB.
  std::string pad(300, 'p');
  std::atomic<int> ok{0}, other{0};
  std::vector<std::thread> clients;
  for (int t = 0; t < 8; ++t)
    clients.emplace_back([&, t] {
      http_client c(port);
      for (int b = 0; b < 2; ++b) {
        std::string body;
        for (int i = 0; i < 100; ++i)
          body +=
              fmt::format(R"({{"type":"order.create","aggregate_id":"ORD-{}-{}-{}","payload":{{"customer_id":"{}"}}}})"
                          "\n",
                          t, b, i, pad);
        auto r = c.request("POST", "/v1/commands/batch", body, "application/x-ndjson");
        for (auto& line : ndjson_lines(r.body))
          if (!line.empty())
            (json_field(line, "ok") == "true" ? ok : other)++;
      }
    });
  for (auto& c : clients)
    c.join();
  CHECK(ok == 1600);
  CHECK(other == 0);
  http_client c(port);
  auto events = c.request("GET", "/v1/events?from=1&limit=100000");
  CHECK(ndjson_lines(events.body).size() == 1600);

  // One command whose event alone is past the bound: an error, nothing
  // stored, and the aggregate is as the log says (it does not exist).
  auto big =
      c.request("POST", "/v1/commands",
                fmt::format(R"({{"type":"order.create","aggregate_id":"ORD-BIG","payload":{{"customer_id":"{}"}}}})",
                            std::string(1024, 'b')));
  INFO(big.body);
  CHECK(big.status == 500);
  CHECK(big.body.find("max_payload") != std::string::npos);
  auto small = c.request("POST", "/v1/commands",
                         R"({"type":"order.create","aggregate_id":"ORD-BIG","payload":{"customer_id":"C1"}})");
  CHECK(small.status == 200);
  CHECK(json_field(small.body, "position") == "1601");
}

TEST_CASE("a node started before its NATS servers answers /readyz 503, then joins when they come",
          "[cluster][process]") {
  nats_cluster nats("8MB", false); // ports chosen, nothing listening yet
  temp_dir dir;
  uint16_t port = free_port();
  server_process node(dir.path() / "a", port, {"--cluster", nats.urls(), "--node", "a"}, "127.0.0.1", false);
  auto status_of = [&](const char* method, const char* target, const std::string& body = {}) {
    try {
      http_client c(port);
      return c.request(method, target, body).status;
    } catch (const std::exception&) {
      return 0; // not listening yet
    }
  };
  auto until = [](auto pred, std::chrono::seconds limit) {
    auto deadline = std::chrono::steady_clock::now() + limit;
    while (!pred() && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    return pred();
  };
  REQUIRE(until([&] { return status_of("GET", "/readyz") != 0; }, std::chrono::seconds(20)));
  CHECK(status_of("GET", "/readyz") == 503);
  CHECK(status_of("GET", "/healthz") == 200);
  CHECK(status_of("POST", "/v1/commands", create_order(1)) == 503);
  std::this_thread::sleep_for(std::chrono::seconds(3)); // still trying, still not ready
  CHECK(status_of("GET", "/readyz") == 503);

  nats.start_all();
  REQUIRE(until([&] { return status_of("GET", "/readyz") == 200; }, std::chrono::seconds(60)));
  http_client c(port);
  auto r = c.request("POST", "/v1/commands", create_order(1));
  REQUIRE(r.status == 200);
  CHECK(json_field(r.body, "position") == "1");
  auto cl = c.request("GET", "/v1/admin/cluster");
  CHECK(cl.body.find(R"({"partition":0,"owner":"a",)") != std::string::npos);
}
