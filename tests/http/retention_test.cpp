// What clients see after retention (SPEC §9): 410 gone for events before
// the first retained position, the truncated-history header, and a gone
// error for an event subscription from before it.
#include "client.h"
#include "server_fixture.h"
#include "ws_client.h"

#include <catch2/catch.hpp>
#include <fmt/format.h>
#include <simdjson.h>

#include <thread>

using namespace sluice;
using sluice::testing::http_client;
using sluice::testing::ws_client;
using namespace std::chrono_literals;

namespace {

std::string create(int i) {
  return fmt::format(R"({{"type":"order.create","aggregate_id":"ORD-{}","payload":{{"customer_id":"C-{}"}}}})", i,
                     i % 7);
}

std::string field(const std::string& json, const char* key) { return sluice::testing::json_field(json, key); }

std::string error_field(const std::string& json, const char* key) { return field(field(json, "error"), key); }

} // namespace

TEST_CASE("after retention: 410 gone before the first position, the truncated-history header, gone on the stream",
          "[http][retention]") {
  sluice::testing::server_fixture f([](engine::options& o) {
    o.segment_bytes = 16 << 10;
    o.retain_bytes = 32 << 10;
    o.maintenance_tick = 5ms;
  });
  http_client c(f.server->port());
  // ORD-0 gets its first events early and one late: retention cuts its history in the middle.
  REQUIRE(c.request("POST", "/v1/commands", create(0)).status == 200);
  REQUIRE(c.request("POST", "/v1/commands",
                    R"({"type":"order.add_item","aggregate_id":"ORD-0","payload":{"product":"P","qty":1,"price":2}})")
              .status == 200);
  for (int i = 1; i < 1200; ++i)
    REQUIRE(c.request("POST", "/v1/commands", create(i)).status == 200);
  uint64_t first = 1;
  for (int i = 0; i < 1000 && first == 1; ++i) {
    std::this_thread::sleep_for(10ms);
    first = f.engine->log().first_position();
  }
  REQUIRE(first > 3);
  auto late =
      c.request("POST", "/v1/commands",
                R"({"type":"order.add_item","aggregate_id":"ORD-0","payload":{"product":"Q","qty":1,"price":3}})");
  REQUIRE(late.status == 200);
  // The first retained position may move on while the test runs; what is before the one read stays gone.
  first = f.engine->log().first_position();

  auto gone = c.request("GET", "/v1/events?from=1");
  CHECK(gone.status == 410);
  CHECK(error_field(gone.body, "code") == "gone");
  CHECK(error_field(gone.body, "first_position") == std::to_string(f.engine->log().first_position()));
  auto kept = c.request("GET", fmt::format("/v1/events?from={}&limit=1", f.engine->log().first_position()));
  CHECK(kept.status == 200);
  CHECK(kept.body.find(fmt::format(R"("position":{})", f.engine->log().first_position())) != std::string::npos);

  // ORD-0's two early events are gone, its late one is served, with the header.
  auto history = c.request("GET", "/v1/aggregates/ORD-0/events");
  CHECK(history.status == 200);
  CHECK(history.history_truncated == "true");
  CHECK(history.body.find(R"("product":"Q")") != std::string::npos);
  CHECK(history.body.find(R"("product":"P")") == std::string::npos);
  // Asking only for what is retained: no header.
  auto tail = c.request("GET", "/v1/aggregates/ORD-0/events?from_version=3");
  CHECK(tail.status == 200);
  CHECK(tail.history_truncated.empty());
  // An aggregate whose every event was deleted: still 200, an empty list, the header.
  auto old = c.request("GET", "/v1/aggregates/ORD-1/events");
  CHECK(old.status == 200);
  CHECK(old.body == "[]");
  CHECK(old.history_truncated == "true");
  // A recent one was never truncated.
  auto recent = c.request("GET", "/v1/aggregates/ORD-1199/events");
  CHECK(recent.status == 200);
  CHECK(recent.history_truncated.empty());

  ws_client ws(f.server->port());
  ws.send(R"({"op":"subscribe","id":"e1","events":true,"from_position":1})");
  auto e = ws.receive();
  CHECK(field(e, "type") == "error");
  CHECK(field(e, "id") == "e1");
  CHECK(field(e, "code") == "gone");
  CHECK(std::stoull(field(e, "first_position")) >= first);
  // No subscription was made: the id is free, and one from a retained position works.
  ws.send(fmt::format(R"({{"op":"subscribe","id":"e1","events":true,"from_position":{}}})",
                      f.engine->log().first_position()));
  CHECK(field(ws.receive(), "type") == "subscribed");
  CHECK(field(ws.receive(), "type") == "event");
}
