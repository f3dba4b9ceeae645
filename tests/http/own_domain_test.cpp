// A domain of the user's own, defined in the test tree (tally_domain.h),
// served by the real engine and HTTP server: nothing in sluice names it.
#include "client.h"
#include "server_fixture.h"
#include "tally_domain.h"

#include <catch2/catch.hpp>

using namespace sluice;
using namespace sluice::testing;

TEST_CASE("a domain of the user's own runs through the real server: commands, rules, views, events", "[framework]") {
  server_fixture f({}, {}, tally::model());
  http_client c(f.server->port());

  auto open = c.request("POST", "/v1/commands",
                        R"({"type":"tally.open","aggregate_id":"T-1","command_id":"k-1","payload":{"limit":10}})");
  REQUIRE(open.status == 200);
  CHECK(c.request("POST", "/v1/commands", R"({"type":"tally.add","aggregate_id":"T-1","payload":{"n":7}})").status ==
        200);
  auto over = c.request("POST", "/v1/commands", R"({"type":"tally.add","aggregate_id":"T-1","payload":{"n":4}})");
  CHECK(over.status == 422);
  CHECK(over.body.find("would pass its limit") != std::string::npos);
  auto bad = c.request("POST", "/v1/commands", R"({"type":"tally.add","aggregate_id":"T-1","payload":{"n":0}})");
  CHECK(bad.status == 400);
  CHECK(bad.body.find("payload.n") != std::string::npos);
  // The built-in domain is not there: this server knows only its own.
  auto order = c.request("POST", "/v1/commands",
                         R"({"type":"order.create","aggregate_id":"O-1","payload":{"customer_id":"c"}})");
  CHECK(order.status == 400);
  CHECK(order.body.find("unknown_command") != std::string::npos);
  CHECK(c.request("GET", "/v1/views/order_summary/O-1").status == 404);

  auto view = c.request("GET", "/v1/views/tallies/T-1?min_position=2&timeout_ms=5000");
  REQUIRE(view.status == 200);
  CHECK(view.body.find(R"("value":{"tally_id":"T-1","total":7,"adds":1})") != std::string::npos);

  auto events = c.request("GET", "/v1/events?from=1");
  REQUIRE(events.status == 200);
  CHECK(events.body.find(R"("type":"tally.opened","schema":1)") != std::string::npos);
  CHECK(events.body.find(R"("data":{"n":7})") != std::string::npos);

  // A repeat of an idempotent command is answered as a duplicate.
  auto again = c.request("POST", "/v1/commands",
                         R"({"type":"tally.open","aggregate_id":"T-1","command_id":"k-1","payload":{"limit":10}})");
  CHECK(again.status == 200);
  CHECK(again.body.find(R"("duplicate":true)") != std::string::npos);
}
