// The real `sluice serve` binary: started, stopped with SIGTERM and with
// SIGKILL under load, and started again on the same data directory.
#include "client.h"
#include "sluice_process.h"
#include "temp_dir.h"

#include <catch2/catch.hpp>
#include <fmt/format.h>
#include <simdjson.h>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <map>
#include <random>
#include <cstdio>
#include <cstdlib>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

using sluice::testing::http_client;
using namespace sluice::testing::process;
using sluice::testing::ndjson_lines;
using sluice::testing::temp_dir;
using namespace std::chrono_literals;

namespace {

std::string deposit(int client, int i) {
  return fmt::format(
      R"({{"type":"account.deposit","aggregate_id":"ACC-{}","command_id":"d-{}-{}","payload":{{"amount":1}}}})", client,
      client, i);
}

} // namespace

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

TEST_CASE("the error log survives SIGKILL; restarts retry it; the fix applies it", "[http][process][crash][views]") {
  temp_dir dir;
  auto data = dir.path() / "data";
  uint16_t port = free_port();
  std::vector<std::string> drill{"--drill-fail-view", "order_summary=BAD"};
  auto create = [](http_client& c, const std::string& id) {
    REQUIRE(
        c.request("POST", "/v1/commands",
                  fmt::format(R"({{"type":"order.create","aggregate_id":"{}","payload":{{"customer_id":"C"}}}})", id))
            .status == 200);
  };
  // The first item of the error log: waits until the view has applied the log.
  auto first_error = [](http_client& c) {
    auto deadline = std::chrono::steady_clock::now() + 10s;
    for (;;) {
      auto r = c.request("GET", "/v1/admin/views/order_summary/errors");
      REQUIRE(r.status == 200);
      if (r.body.find(R"("key":"BAD-1")") != std::string::npos)
        return r.body;
      REQUIRE(std::chrono::steady_clock::now() < deadline);
      std::this_thread::sleep_for(10ms);
    }
  };
  std::string failed_at;
  {
    server_process s(data, port, drill);
    http_client c(port);
    create(c, "BAD-1");
    create(c, "OK-1");
    auto body = first_error(c);
    CHECK(body.find(R"("attempts":1)") != std::string::npos);
    auto at = body.find(R"("first_failed_at":")");
    REQUIRE(at != std::string::npos);
    failed_at = body.substr(at, 44);
    int status = s.stop(SIGKILL);
    CHECK(WIFSIGNALED(status));
  }
  {
    server_process s(data, port, drill); // still failing: the retry at start is an attempt more
    http_client c(port);
    auto body = first_error(c);
    CHECK(body.find(R"("attempts":2)") != std::string::npos);
    CHECK(body.find(failed_at) != std::string::npos);
    CHECK(c.request("GET", "/v1/views/order_summary/OK-1").status == 200);
    s.stop(SIGKILL);
  }
  server_process s(data, port); // fixed
  http_client c(port);
  auto r = c.request("GET", "/v1/views/order_summary/BAD-1?min_position=2");
  REQUIRE(r.status == 200);
  CHECK(r.body.find(R"("order_id":"BAD-1")") != std::string::npos);
  CHECK(r.body.find("parked") == std::string::npos);
  CHECK(c.request("GET", "/v1/admin/views/order_summary/errors").body == R"({"items":[],"next":null})");
  s.stop(SIGTERM);
}

TEST_CASE("SIGKILL in the middle of a build: the older version serves and the build starts again",
          "[http][process][crash][views]") {
  temp_dir dir;
  auto data = dir.path() / "data";
  uint16_t port = free_port();
  constexpr int orders = 40; // three events each: 120 events, 150 ms a build pass under the drill
  {
    server_process s(data, port);
    http_client c(port);
    std::string batch;
    for (int i = 0; i < orders; ++i) {
      batch += fmt::format(R"({{"type":"order.create","aggregate_id":"O-{}","payload":{{"customer_id":"C"}}}})", i);
      batch += "\n";
      batch += fmt::format(
          R"({{"type":"order.add_item","aggregate_id":"O-{}","payload":{{"product":"P","qty":1,"price":2.5}}}})", i);
      batch += "\n";
      batch += fmt::format(R"({{"type":"order.confirm","aggregate_id":"O-{}","payload":{{}}}})", i);
      batch += "\n";
    }
    REQUIRE(c.request("POST", "/v1/commands/batch", batch, "application/x-ndjson").status == 200);
    REQUIRE(
        c.request("GET", fmt::format("/v1/views/order_summary/O-{}?min_position={}", orders - 1, 3 * orders)).status ==
        200);
    CHECK(WIFEXITED(s.stop(SIGTERM)));
  }
  // As if the data directory came from a build whose customer_orders was
  // version 1: this build's version 2 has to be built from the log.
  auto serving = data / "views" / "serving";
  std::ifstream in(serving);
  std::string manifest((std::istreambuf_iterator<char>(in)), {});
  in.close();
  auto at = manifest.find("customer_orders 2");
  REQUIRE(at != std::string::npos);
  manifest.replace(at, 17, "customer_orders 1");
  std::ofstream(serving, std::ios::trunc) << manifest;

  std::vector<std::string> slow{"--drill-slow-build"};
  // The admin listing's row for customer_orders version `v`.
  auto row = [](http_client& c, int v) {
    auto body = c.request("GET", "/v1/admin/views").body;
    auto from = body.find(fmt::format(R"({{"view":"customer_orders","version":{},)", v));
    return from == std::string::npos ? std::string{} : body.substr(from, body.find('}', from) - from + 1);
  };
  auto mid_build = [&](http_client& c) {
    auto deadline = std::chrono::steady_clock::now() + 20s;
    for (;;) {
      auto r = row(c, 2);
      if (r.find(R"("state":"building")") != std::string::npos &&
          r.find(R"("build":{"position":0,)") == std::string::npos)
        return r;
      REQUIRE(std::chrono::steady_clock::now() < deadline);
      std::this_thread::sleep_for(2ms);
    }
  };
  for (int round = 0; round < 3; ++round) {
    server_process s(data, port, slow);
    http_client c(port);
    auto r = mid_build(c);
    INFO(r);
    CHECK(r.find(fmt::format(R"("target":{})", 3 * orders)) != std::string::npos);
    CHECK(row(c, 1).find(R"("state":"serving")") != std::string::npos);
    auto read = c.request("GET", "/v1/views/customer_orders/C");
    REQUIRE(read.status == 200);
    CHECK(read.body.find("total_spent") == std::string::npos); // version 1 answers
    CHECK(c.request("GET", "/v1/views/customer_orders/C?version=2").status == 503);
    CHECK(WIFSIGNALED(s.stop(SIGKILL)));
  }
  server_process s(data, port); // no drill: the build runs to its end
  http_client c(port);
  auto deadline = std::chrono::steady_clock::now() + 20s;
  while (row(c, 2).find(R"("state":"serving")") == std::string::npos) {
    REQUIRE(std::chrono::steady_clock::now() < deadline);
    std::this_thread::sleep_for(5ms);
  }
  CHECK(row(c, 1).find(R"("state":"serving")") == std::string::npos);
  auto read = c.request("GET", "/v1/views/customer_orders/C");
  REQUIRE(read.status == 200);
  CHECK(read.body.find(fmt::format(R"("total_spent":{}.00)", orders * 5 / 2)) != std::string::npos);
  CHECK(WIFEXITED(s.stop(SIGTERM)));
  std::ifstream after(serving);
  std::string text((std::istreambuf_iterator<char>(after)), {});
  CHECK(text.find("customer_orders 2") != std::string::npos);
}

namespace {

// `sluice ARGS…`: its exit status and what it printed on stdout and stderr.
std::pair<int, std::string> run_binary(const std::vector<std::string>& args, const std::filesystem::path& out) {
  std::fflush(stdout);
  pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    FILE* f = std::freopen(out.c_str(), "w", stdout);
    (void)f;
    ::dup2(::fileno(stdout), 2);
    exec_binary(args);
  }
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  std::ifstream in(out);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, std::string((std::istreambuf_iterator<char>(in)), {})};
}

} // namespace

TEST_CASE("sluice token new prints a token and its entry; the server takes it and reloads on SIGHUP",
          "[http][process][auth]") {
  temp_dir dir;
  auto [bad, why] = run_binary({"token", "new", "x", "--grant", "superuser"}, dir.path() / "bad.out");
  CHECK(bad == 2);
  CHECK(why.find("unknown grant 'superuser'") != std::string::npos);

  std::vector<std::string> tokens, entries;
  for (auto* who : {"ingest", "reader"}) {
    auto [rc, out] =
        run_binary({"token", "new", who, "--grant", who == std::string("ingest") ? "commands:*" : "views:*"},
                   dir.path() / "token.out");
    REQUIRE(rc == 0);
    auto nl = out.find('\n');
    REQUIRE(nl != std::string::npos);
    tokens.push_back(out.substr(0, nl));
    entries.push_back(out.substr(nl + 1, out.find('\n', nl + 1) - nl - 1));
    CHECK(tokens.back().size() >= 22); // ≥ 128 bits, URL-safe
    CHECK(entries.back().find(fmt::format(R"("name":"{}")", who)) != std::string::npos);
  }
  auto file = dir.path() / "auth.json";
  auto write_file = [&](const std::string& text) { std::ofstream(file, std::ios::trunc) << text; };
  write_file(fmt::format(R"({{"tokens":[{},{}]}})", entries[0], entries[1]));

  auto data = dir.path() / "data";
  uint16_t port = free_port();
  server_process s(data, port, {"--auth", file.string()});
  http_client ingest(port), reader(port);
  ingest.set_header("Authorization", "Bearer " + tokens[0]);
  reader.set_header("Authorization", "Bearer " + tokens[1]);
  CHECK(ingest.request("POST", "/v1/commands", deposit(0, 0)).status == 422); // passes: no such account
  CHECK(reader.request("GET", "/v1/views/account_balance").status == 200);
  CHECK(reader.request("POST", "/v1/commands", deposit(0, 1)).status == 403);

  // A broken file on SIGHUP keeps what was loaded.
  write_file(R"({"tokens":[{"name":"x"}]})");
  ::kill(s.pid(), SIGHUP);
  std::this_thread::sleep_for(300ms);
  CHECK(reader.request("GET", "/v1/views/account_balance").status == 200);
  // The reader's token revoked: 401 from the next request, on the same connection.
  write_file(fmt::format(R"({{"tokens":[{}]}})", entries[0]));
  ::kill(s.pid(), SIGHUP);
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (reader.request("GET", "/v1/views/account_balance").status != 401) {
    REQUIRE(std::chrono::steady_clock::now() < deadline);
    std::this_thread::sleep_for(20ms);
  }
  CHECK(ingest.request("POST", "/v1/commands", deposit(0, 2)).status == 422);
  CHECK(WIFEXITED(s.stop(SIGTERM)));
  std::ifstream log(data.string() + ".out");
  std::string text((std::istreambuf_iterator<char>(log)), {});
  CHECK(text.find("auth: 2 tokens from") != std::string::npos);
  for (auto& t : tokens)
    CHECK(text.find(t) == std::string::npos); // tokens are never logged
}

TEST_CASE("serve refuses a non-loopback address without --auth, unless --insecure", "[http][process][auth]") {
  temp_dir dir;
  uint16_t port = free_port();
  auto listen = fmt::format("0.0.0.0:{}", port);
  auto [rc, out] = run_binary({"serve", "--data", (dir.path() / "d").string(), "--listen", listen}, dir.path() / "o");
  CHECK(rc == 2);
  CHECK(out.find("refusing to listen on 0.0.0.0") != std::string::npos);
  CHECK(out.find("--insecure") != std::string::npos);
  auto [bad_rc, bad_out] =
      run_binary({"serve", "--data", (dir.path() / "d").string(), "--auth", (dir.path() / "o").string()},
                 dir.path() / "o2"); // not JSON
  CHECK(bad_rc == 2);
  CHECK(bad_out.find("not valid JSON") != std::string::npos);

  server_process s(dir.path() / "d", port, {"--insecure"}, "0.0.0.0");
  bool ready = false;
  for (int i = 0; i < 250 && !ready; ++i) {
    try {
      ready = http_client(port).request("GET", "/readyz").status == 200;
    } catch (const std::exception&) {
      std::this_thread::sleep_for(20ms);
    }
  }
  CHECK(ready);
  CHECK(WIFEXITED(s.stop(SIGTERM)));
}

TEST_CASE("sluice views talks to a server with TLS and auth: --server https://, --ca-file, --token",
          "[http][process][auth][tls]") {
  temp_dir dir;
  auto cert = dir.path() / "cert.pem", key = dir.path() / "key.pem";
  REQUIRE(std::system(fmt::format("openssl req -x509 -newkey rsa:2048 -nodes -keyout '{}' -out '{}' -days 2 -subj "
                                  "/CN=localhost -addext subjectAltName=DNS:localhost 2>/dev/null",
                                  key.string(), cert.string())
                          .c_str()) == 0);
  auto [rc, out] = run_binary({"token", "new", "ops", "--grant", "admin"}, dir.path() / "token.out");
  REQUIRE(rc == 0);
  auto token = out.substr(0, out.find('\n'));
  auto entry = out.substr(out.find('\n') + 1);
  entry = entry.substr(0, entry.find('\n'));
  std::ofstream(dir.path() / "auth.json") << fmt::format(R"({{"tokens":[{}]}})", entry);

  uint16_t port = free_port();
  server_process s(
      dir.path() / "data", port,
      {"--auth", (dir.path() / "auth.json").string(), "--tls-cert", cert.string(), "--tls-key", key.string()},
      "localhost");
  auto url = fmt::format("https://localhost:{}", port);
  std::vector<std::string> base{"views", "list", "--server", url, "--ca-file", cert.string()};
  auto with = [&](std::vector<std::string> extra) {
    auto args = base;
    args.insert(args.end(), extra.begin(), extra.end());
    return run_binary(args, dir.path() / "views.out");
  };
  std::pair<int, std::string> listed;
  for (int i = 0; i < 250; ++i) { // until the server listens
    listed = with({"--token", token, "--json"});
    if (listed.first == 0)
      break;
    std::this_thread::sleep_for(20ms);
  }
  CHECK(listed.first == 0);
  CHECK(listed.second.find(R"("view":"order_summary")") != std::string::npos);
  auto table = with({"--token", token});
  CHECK(table.first == 0);
  CHECK(table.second.find("order_summary") != std::string::npos);
  auto refused = with({});
  CHECK(refused.first != 0);
  CHECK(refused.second.find("token") != std::string::npos); // the server's 401 message
  auto untrusted = run_binary({"views", "list", "--server", url, "--token", token}, dir.path() / "u.out");
  CHECK(untrusted.first != 0); // a self-signed certificate the system does not trust
  CHECK(untrusted.second.find("TLS") != std::string::npos);
  CHECK(WIFEXITED(s.stop(SIGTERM)));
}

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

TEST_CASE("a flag given three ways: the command line wins over SLUICE_*, and SLUICE_* over --config",
          "[http][process][config]") {
  temp_dir dir;
  uint16_t from_env = free_port(), from_file = free_port(), from_flag = free_port();
  auto config = dir.path() / "sluice.toml";
  {
    std::ofstream out(config);
    out << "# sluice serve's flags\n[serve]\nlisten = \"127.0.0.1:" << from_file << "\"\ndurability = \"none\"\n";
  }
  std::vector<std::pair<std::string, std::string>> env{{"SLUICE_LISTEN", fmt::format("127.0.0.1:{}", from_env)},
                                                       {"SLUICE_DATA", (dir.path() / "data").string()}};
  auto err = dir.path() / "stderr";

  SECTION("SLUICE_LISTEN alone") {
    auto pid = spawn({"serve"}, env, err);
    CHECK(answers_on(from_env));
    CHECK(WIFEXITED(stop_and_wait(pid)));
    CHECK(std::filesystem::exists(dir.path() / "data" / "log")); // SLUICE_DATA too
  }
  SECTION("the variable over the file") {
    // A container's SLUICE_* override must win over a baked-in file.
    auto pid = spawn({"serve", "--config", config.string()}, env, err);
    CHECK(answers_on(from_env));
    stop_and_wait(pid);
    CHECK(slurp_file(err).find("durability none") != std::string::npos); // the file's other key applied
  }
  SECTION("the file where no variable is set") {
    auto pid = spawn({"serve", "--config", config.string()}, {{"SLUICE_DATA", (dir.path() / "data").string()}}, err);
    CHECK(answers_on(from_file));
    stop_and_wait(pid);
  }
  SECTION("the command line over both") {
    auto pid =
        spawn({"serve", "--config", config.string(), "--listen", fmt::format("127.0.0.1:{}", from_flag)}, env, err);
    CHECK(answers_on(from_flag));
    stop_and_wait(pid);
  }
  SECTION("a key the file should not have is an error that names it") {
    {
      std::ofstream out(config, std::ios::app);
      out << "listne = \"127.0.0.1:1\"\n";
    }
    auto pid = spawn({"serve", "--config", config.string()}, env, err);
    int status = 0;
    ::waitpid(pid, &status, 0);
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) != 0);
    CHECK(slurp_file(err).find("listne") != std::string::npos);
  }
  SECTION("a missing file is an error") {
    auto pid = spawn({"serve", "--config", (dir.path() / "nope.toml").string()}, env, err);
    int status = 0;
    ::waitpid(pid, &status, 0);
    CHECK(WEXITSTATUS(status) != 0);
    CHECK(slurp_file(err).find("nope.toml") != std::string::npos);
  }
}

TEST_CASE("--log-format json: every line is one JSON object with an RFC 3339 time; --log-level drops lines",
          "[http][process][config]") {
  temp_dir dir;
  uint16_t port = free_port();
  auto err = dir.path() / "stderr", out = dir.path() / "stdout";
  auto level = GENERATE(as<std::string>{}, "info", "warn");
  INFO("--log-level " << level);
  auto pid = spawn({"serve", "--data", (dir.path() / "data").string(), "--listen", fmt::format("127.0.0.1:{}", port),
                    "--durability", "none", "--log-format", "json", "--log-level", level},
                   {}, err, out);
  REQUIRE(answers_on(port));
  stop_and_wait(pid);
  CHECK(slurp_file(out).empty()); // the banner too is a log line
  auto text = slurp_file(err);
  simdjson::dom::parser p;
  std::set<std::string> levels;
  bool banner = false;
  size_t lines = 0;
  for (size_t at = 0; at < text.size();) {
    auto end = text.find('\n', at);
    REQUIRE(end != std::string::npos); // every line ends
    auto line = text.substr(at, end - at);
    at = end + 1;
    INFO(line);
    simdjson::dom::element e;
    REQUIRE(p.parse(line).get(e) == simdjson::SUCCESS);
    std::string_view time, lvl, name, message;
    REQUIRE(e["time"].get(time) == simdjson::SUCCESS);
    REQUIRE(e["level"].get(lvl) == simdjson::SUCCESS);
    REQUIRE(e["logger"].get(name) == simdjson::SUCCESS);
    REQUIRE(e["message"].get(message) == simdjson::SUCCESS);
    // 2026-12-03T13:14:35.123Z
    REQUIRE(time.size() == 24);
    CHECK(time[4] == '-');
    CHECK(time[10] == 'T');
    CHECK(time[19] == '.');
    CHECK(time[23] == 'Z');
    levels.insert(std::string(lvl));
    banner = banner || message == fmt::format("sluice listening on http://127.0.0.1:{}", port);
    ++lines;
  }
  CHECK(banner == (level == "info"));
  CHECK(levels.contains("warn")); // durability none
  CHECK(levels.contains("info") == (level == "info"));
  CHECK(lines >= 1);
}

TEST_CASE("--version prints the build's version", "[http][process][config]") {
  std::fflush(stdout);
  FILE* f = ::popen(SLUICE_BINARY " --version", "r");
  REQUIRE(f != nullptr);
  char buf[256] = {};
  auto n = std::fread(buf, 1, sizeof buf - 1, f);
  CHECK(::pclose(f) == 0);
  CHECK(std::string(buf, n) == fmt::format("sluice {}\n", SLUICE_TEST_VERSION));
}
