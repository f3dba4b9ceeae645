// The real `sluice serve` binary and its views across SIGKILL: the error
// log of a failing view, and a build of a new view version killed midway.
#include "client.h"
#include "sluice_process.h"
#include "temp_dir.h"

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <signal.h>
#include <sys/wait.h>

#include <chrono>
#include <fstream>
#include <iterator>
#include <string>
#include <thread>
#include <vector>

using sluice::testing::http_client;
using namespace sluice::testing::process;
using sluice::testing::temp_dir;
using namespace std::chrono_literals;

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
