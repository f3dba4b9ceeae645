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
