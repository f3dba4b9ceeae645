// What a new client trips over at the front door: methods and bodies,
// HEAD, Host, browsers' query strings, slow heads, readiness while
// stopping, and the memory all connections' bodies may take together.
#include "http/server.h"

#include "client.h"
#include "server_fixture.h"

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <chrono>
#include <thread>

using namespace sluice;
using sluice::testing::http_client;
using namespace std::chrono_literals;

namespace {

struct fixture : sluice::testing::server_fixture {
  using server_fixture::server_fixture;
  http_client client() { return http_client(server->port()); }
};

// The value of metric line `name` in the Prometheus text, or -1.
double metric(const std::string& text, const std::string& name) {
  auto at = text.find("\n" + name + " ");
  if (at == std::string::npos)
    return -1;
  return std::stod(text.substr(at + name.size() + 2));
}

} // namespace

TEST_CASE("commands that fail decoding count as invalid", "[http]") {
  fixture f;
  auto c = f.client();
  CHECK(c.request("POST", "/v1/commands", "{nope").status == 400);
  CHECK(c.request("POST", "/v1/commands", R"({"type":"order.ship","aggregate_id":"A","payload":{}})").status == 400);
  auto batch = "{bad\n" + std::string(R"({"type":"order.create","aggregate_id":"B","payload":{"customer_id":"c"}})") +
               "\n{\"type\":1}\n";
  CHECK(c.request("POST", "/v1/commands/batch", batch, "application/x-ndjson").status == 200);
  auto text = c.request("GET", "/metrics").body;
  CHECK(metric(text, R"(sluice_commands_total{result="invalid"})") == 4);
  CHECK(metric(text, R"(sluice_commands_total{result="ok"})") == 1);
}

TEST_CASE("a body on a method the route does not allow is 405, not 413", "[http]") {
  fixture f;
  struct probe {
    const char* method;
    const char* target;
    const char* allow;
  };
  for (auto p : {probe{"PUT", "/v1/commands", "POST"}, probe{"DELETE", "/v1/views/x", "GET, HEAD"},
                 probe{"GET", "/v1/commands/batch", "POST"}, probe{"POST", "/v1/events", "GET, HEAD"}}) {
    INFO(p.method << " " << p.target);
    auto c = f.client();
    auto r = c.request(p.method, p.target, "{}");
    CHECK(r.status == 405);
    CHECK(r.allow == p.allow);
    CHECK_THAT(r.body, Catch::Contains("method_not_allowed"));
    // A small body was read and dropped: the connection goes on.
    CHECK(c.request("GET", "/healthz").status == 200);
  }
  // A large one is not read at all: answered from the head, then closed.
  auto c = f.client();
  c.write_raw("PUT /v1/commands HTTP/1.1\r\nHost: x\r\nContent-Length: 104857600\r\n\r\n{");
  auto text = c.read_raw();
  CHECK(text.starts_with("HTTP/1.1 405 "));
  CHECK_THAT(text, Catch::Contains("Allow: POST\r\n"));
  CHECK_THAT(text, Catch::Contains("Connection: close\r\n"));
  // An unknown path with a body is 404.
  CHECK(f.client().request("POST", "/v2/nothing", "{}").status == 404);
  // A body where the route takes none is still 413.
  CHECK(f.client().request("GET", "/healthz", "{}").status == 413);
}

TEST_CASE("HEAD is answered like GET without a body", "[http]") {
  fixture f;
  auto c = f.client();
  c.write_raw(
      "HEAD /healthz HTTP/1.1\r\nHost: x\r\n\r\nHEAD /v1/commands HTTP/1.1\r\nHost: x\r\n\r\nGET /healthz "
      "HTTP/1.1\r\nHost: x\r\n\r\n");
  auto text = c.read_raw();
  // Three answers; the two HEAD answers have headers only.
  auto first = text.find("HTTP/1.1 200 OK\r\n");
  auto second = text.find("HTTP/1.1 405 ");
  auto third = text.rfind("HTTP/1.1 200 OK\r\n");
  REQUIRE(first == 0);
  REQUIRE(second != std::string::npos);
  REQUIRE(third > second);
  auto head1 = text.substr(0, second);
  CHECK_THAT(head1, Catch::Contains("Content-Length: 11\r\n"));
  CHECK(head1.ends_with("\r\n\r\n"));
  auto head2 = text.substr(second, third - second);
  CHECK_THAT(head2, Catch::Contains("Allow: POST\r\n"));
  CHECK(head2.ends_with("\r\n\r\n"));
  CHECK(text.substr(third).ends_with(R"({"ok":true})"));
}

TEST_CASE("an HTTP/1.1 request without Host is 400; HTTP/1.0 needs none", "[http]") {
  fixture f;
  auto c = f.client();
  c.write_raw("GET /healthz HTTP/1.1\r\n\r\n");
  auto text = c.read_raw();
  CHECK(text.starts_with("HTTP/1.1 400 "));
  CHECK_THAT(text, Catch::Contains("Host"));
  auto old = f.client();
  old.write_raw("GET /healthz HTTP/1.0\r\n\r\n");
  CHECK(old.read_raw().starts_with("HTTP/1.0 200 "));
}

TEST_CASE("query strings are decoded as browsers encode them", "[http]") {
  fixture f;
  auto c = f.client();
  for (auto id : {"a b", "a+b", "c d"})
    REQUIRE(c.request("POST", "/v1/commands",
                      fmt::format(R"({{"type":"account.open","aggregate_id":"{}","payload":{{"owner":"o"}}}})", id))
                .status == 200);
  // URLSearchParams writes "a b" as a+b and "a+b" as a%2Bb.
  auto wait = c.request("GET", "/v1/views/account_balance/c%20d?min_position=3");
  REQUIRE(wait.status == 200);
  auto r = c.request("GET", "/v1/views/account_balance?after=a+b&limit=1");
  REQUIRE(r.status == 200);
  CHECK_THAT(r.body, Catch::Contains(R"("key":"a+b")"));
  r = c.request("GET", "/v1/views/account_balance?after=a%2Bb&limit=1");
  CHECK_THAT(r.body, Catch::Contains(R"("key":"c d")"));
  // In the path '+' is itself.
  CHECK(c.request("GET", "/v1/views/account_balance/a+b").status == 200);
}

TEST_CASE("a request head dripping in is closed at the head deadline, not the idle timeout", "[http]") {
  http::limits l;
  l.idle_seconds = 30;
  l.header_seconds = 1;
  fixture f(l);
  auto c = f.client();
  auto started = std::chrono::steady_clock::now();
  bool closed = false;
  std::string head = "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ";
  for (int i = 0; i < 100 && !closed; ++i) {
    try {
      c.write_raw(head.substr(0, 1));
      head = head.size() > 1 ? head.substr(1) : "a";
    } catch (const std::exception&) {
      closed = true;
    }
    std::this_thread::sleep_for(100ms);
  }
  auto took = std::chrono::steady_clock::now() - started;
  CHECK(closed);
  CHECK(took < 5s);
  // An idle keep-alive connection is not cut by the head deadline.
  auto idle = f.client();
  CHECK(idle.request("GET", "/healthz").status == 200);
  std::this_thread::sleep_for(1500ms);
  CHECK(idle.request("GET", "/healthz").status == 200);
}

TEST_CASE("readiness is 503 once a stop has begun", "[http]") {
  fixture f;
  auto c = f.client();
  REQUIRE(c.request("GET", "/readyz").status == 200);
  f.engine->stop();
  auto r = c.request("GET", "/readyz");
  CHECK(r.status == 503);
  CHECK_THAT(r.body, Catch::Contains("shutting down"));
  CHECK(c.request("GET", "/healthz").status == 200);
}

TEST_CASE("bodies held across all connections are bounded: past the budget, 503 overloaded", "[http]") {
  http::limits l;
  l.body_memory_bytes = 1 << 20;
  l.batch_body_bytes = 8 << 20;
  fixture f(l);
  // Two clients each announce 600 KiB and send part of it: the first holds
  // its share of the budget while its body arrives, the second does not fit.
  auto a = f.client();
  a.write_raw("POST /v1/commands/batch HTTP/1.1\r\nHost: x\r\nContent-Length: 614400\r\n\r\n");
  std::this_thread::sleep_for(200ms);
  auto b = f.client();
  b.write_raw("POST /v1/commands/batch HTTP/1.1\r\nHost: x\r\nContent-Length: 614400\r\n\r\n");
  auto text = b.read_raw();
  CHECK(text.starts_with("HTTP/1.1 503 "));
  CHECK_THAT(text, Catch::Contains("overloaded"));
  CHECK_THAT(text, Catch::Contains("Retry-After: 1\r\n"));
  // A body larger than the whole budget never fits.
  auto huge = f.client();
  huge.write_raw("POST /v1/commands/batch HTTP/1.1\r\nHost: x\r\nContent-Length: 2000000\r\n\r\n");
  CHECK(huge.read_raw().starts_with("HTTP/1.1 503 "));
  // Once the first is answered its share returns; everyone is served again.
  std::string line = R"({"type":"account.open","aggregate_id":"Z","payload":{"owner":"o"}})";
  std::string rest;
  while (rest.size() + line.size() + 1 <= 614400)
    rest += line + "\n";
  rest.resize(614400, ' ');
  a.write_raw(rest);
  CHECK(a.receive().status == 200);
  auto c = f.client();
  CHECK(c.request("POST", "/v1/commands/batch", line + "\n", "application/x-ndjson").status == 200);
  CHECK(c.request("POST", "/v1/commands/batch", std::string(900 << 10, ' ') + line, "application/x-ndjson").status ==
        200);
}
