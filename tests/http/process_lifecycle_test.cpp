// The real `sluice serve` binary: stopped with SIGTERM, with SIGKILL under
// load and by a failed fdatasync, and started again on the same data
// directory; listening on an IPv6 literal.
#include "client.h"
#include "deposit_command.h"
#include "sluice_process.h"
#include "temp_dir.h"

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <signal.h>
#include <sys/wait.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <exception>
#include <fstream>
#include <iterator>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

using sluice::testing::deposit;
using sluice::testing::http_client;
using namespace sluice::testing::process;
using sluice::testing::temp_dir;
using namespace std::chrono_literals;

TEST_CASE("SIGTERM stops the server cleanly and a restart keeps everything", "[http][process]") {
  temp_dir dir;
  auto data = dir.path() / "data";
  uint16_t port = free_port();
  {
    server_process s(data, port);
    http_client c(port);
    REQUIRE(
        c.request("POST", "/v1/commands", R"({"type":"account.open","aggregate_id":"ACC-0","payload":{"owner":"Ada"}})")
            .status == 200);
    REQUIRE(c.request("POST", "/v1/commands", deposit(0, 0)).status == 200);
    int status = s.stop(SIGTERM);
    REQUIRE(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
  }
  std::ifstream banner(data.string() + ".out");
  std::string text((std::istreambuf_iterator<char>(banner)), {});
  CHECK(text.find(fmt::format("sluice listening on http://127.0.0.1:{}", port)) != std::string::npos);
  CHECK(text.find("durability: fsync") != std::string::npos);
  // Without --threads the actor workers take the cores the 2 I/O threads leave.
  unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  unsigned actor_threads = std::max(1u, cores - std::min(cores, 2u));
  CHECK(text.find(fmt::format("threads: {} actor, 2 I/O", actor_threads)) != std::string::npos);
  server_process s(data, port);
  // Each thread says what it runs (top -H, perf): two I/O threads, the
  // actor workers, the log's writer and syncer.
  auto names = s.thread_names();
  CHECK(names.count("sluice.io") == 2);
  CHECK(names.count("sluice.actors") == actor_threads);
  CHECK(names.count("sluice.writer") == 1);
  CHECK(names.count("sluice.syncer") == 1);
  http_client c(port);
  auto v = c.request("GET", "/v1/views/account_balance/ACC-0?min_position=2");
  CHECK(v.status == 200);
  CHECK(v.body.find(R"("balance":1.00,"version":2)") != std::string::npos);
  auto dup = c.request("POST", "/v1/commands", deposit(0, 0));
  CHECK(dup.body == R"({"ok":true,"aggregate_id":"ACC-0","version":2,"position":2,"events":1,"duplicate":true})");
  CHECK(WIFEXITED(s.stop(SIGINT)));
}

TEST_CASE("SIGKILL under load loses no acknowledged command", "[http][process][crash]") {
  temp_dir dir;
  auto data = dir.path() / "data";
  uint16_t port = free_port();
  std::mutex mu;
  std::set<std::string> acked;
  {
    server_process s(data, port);
    for (int client = 0; client < 4; ++client) {
      http_client c(port);
      REQUIRE(c.request("POST", "/v1/commands",
                        fmt::format(R"({{"type":"account.open","aggregate_id":"ACC-{}","payload":{{"owner":"o"}}}})",
                                    client))
                  .status == 200);
    }
    std::atomic<bool> stop{false};
    std::vector<std::thread> clients;
    for (int client = 0; client < 4; ++client)
      clients.emplace_back([&, client] {
        try {
          http_client c(port);
          for (int i = 0; !stop; ++i) {
            auto r = c.request("POST", "/v1/commands", deposit(client, i));
            if (r.status == 200) {
              std::lock_guard lk(mu);
              acked.insert(fmt::format("d-{}-{}", client, i));
            }
          }
        } catch (const std::exception&) {
          // the server died mid-request: that command was not acknowledged
        }
      });
    std::this_thread::sleep_for(300ms);
    int status = s.stop(SIGKILL);
    stop = true;
    for (auto& t : clients)
      t.join();
    REQUIRE(WIFSIGNALED(status));
  }
  REQUIRE(acked.size() > 10);
  server_process s(data, port);
  http_client c(port);
  auto events = c.request("GET", "/v1/events?from=1&limit=100000");
  REQUIRE(events.status == 200);
  size_t found = 0;
  for (auto& id : acked)
    found += events.body.find(fmt::format(R"("command_id":"{}")", id)) != std::string::npos;
  CHECK(found == acked.size());
  s.stop(SIGTERM);
}

TEST_CASE("a failed fdatasync stops the server (exit 74); a restart has every acknowledged command",
          "[http][process]") {
  temp_dir dir;
  auto data = dir.path() / "data";
  uint16_t port = free_port();
  std::vector<std::string> acked;
  {
    server_process s(data, port, {"--drill-fail-sync-after", "20"});
    http_client c(port);
    REQUIRE(
        c.request("POST", "/v1/commands", R"({"type":"account.open","aggregate_id":"ACC-0","payload":{"owner":"Ada"}})")
            .status == 200);
    try {
      for (int i = 0; i < 100; ++i) {
        auto r = c.request("POST", "/v1/commands", deposit(0, i));
        if (r.status != 200)
          break;
        acked.push_back(fmt::format("d-0-{}", i));
      }
    } catch (const std::exception&) {
      // the server exited mid-request
    }
    int status = s.wait();
    REQUIRE(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 74);
  }
  CHECK(acked.size() >= 18);
  CHECK(acked.size() < 100);
  server_process s(data, port);
  http_client c(port);
  auto events = c.request("GET", "/v1/events?from=1&limit=100000");
  for (auto& id : acked)
    CHECK(events.body.find(fmt::format(R"("command_id":"{}")", id)) != std::string::npos);
  CHECK(WIFEXITED(s.stop(SIGTERM)));
}

TEST_CASE("the server listens on an IPv6 literal in brackets", "[http][process]") {
  boost::asio::io_context ioc;
  boost::system::error_code ec;
  boost::asio::ip::tcp::acceptor probe(ioc);
  probe.open(boost::asio::ip::tcp::v6(), ec);
  if (!ec)
    probe.bind({boost::asio::ip::make_address("::1"), 0}, ec);
  if (ec) {
    // No IPv6 loopback here: the address parser is checked in base_test.
    WARN("no ::1 on this machine: " << ec.message());
    CHECK(ec);
    return;
  }
  uint16_t port = probe.local_endpoint().port();
  probe.close();
  temp_dir dir;
  server_process s(dir.path() / "data", port, {}, "::1");
  bool ready = false;
  for (int i = 0; i < 500 && !ready; ++i) {
    boost::asio::ip::tcp::socket sock(ioc);
    sock.connect({boost::asio::ip::make_address("::1"), port}, ec);
    if (!ec) {
      std::string req = "GET /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
      boost::asio::write(sock, boost::asio::buffer(req), ec);
      std::string got(64, '\0');
      size_t n = sock.read_some(boost::asio::buffer(got), ec);
      ready = got.substr(0, n).starts_with("HTTP/1.1 200");
    }
    if (!ready)
      std::this_thread::sleep_for(20ms);
  }
  CHECK(ready);
  CHECK(WIFEXITED(s.stop(SIGTERM)));
  std::ifstream banner((dir.path() / "data").string() + ".out");
  std::string text((std::istreambuf_iterator<char>(banner)), {});
  CHECK(text.find(fmt::format("sluice listening on http://[::1]:{}", port)) != std::string::npos);
}
