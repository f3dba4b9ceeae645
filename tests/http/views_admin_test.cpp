// The HTTP side of view versions (SPEC §10): ?version=N, 503 view_building,
// GET /v1/admin/views and POST /v1/admin/views/{view}/rebuild, the metrics.
#include "client.h"
#include "engine_fixture.h"
#include "server_fixture.h"
#include "tally_domain.h"
#include "ws_client.h"

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <thread>

using namespace sluice;
using namespace sluice::testing;
using namespace std::chrono_literals;

namespace {

const domain::model& v1_v2_model() {
  static const domain::model m =
      *domain::model::make({&tally::type()}, {tally::tallies_view(), tally::tallies_v2_view()});
  return m;
}

struct release_on_exit {
  ~release_on_exit() { tally::hold_v2() = false; }
};

} // namespace

TEST_CASE("view versions over HTTP: serving, building, retired, rebuild", "[views][versions][http]") {
  server_fixture f([](engine::options& o) {
    // A log written by a build with version 1 only, then served by one with both.
    o.model = &tally::model();
    o.shards = 2;
    o.threads = 3;
    {
      auto first = start_engine(o);
      for (int i = 0; i < 5; ++i)
        send_json(*first, fmt::format(R"({{"type":"tally.open","aggregate_id":"T-{}","payload":{{"limit":99}}}})", i));
    }
    o.model = &v1_v2_model();
    tally::hold_v2() = true;
  });
  release_on_exit release; // before the fixture stops: a held build would hold its stop
  http_client c(f.server->port());

  auto v1 = c.request("GET", "/v1/views/tallies/T-1");
  REQUIRE(v1.status == 200);
  CHECK(v1.body.find("mean") == std::string::npos);
  CHECK(c.request("GET", "/v1/views/tallies/T-1?version=1").status == 200);
  auto building = c.request("GET", "/v1/views/tallies/T-1?version=2");
  CHECK(building.status == 503);
  CHECK(building.body.find(R"("code":"view_building")") != std::string::npos);
  CHECK(building.body.find(R"("log_position":5)") != std::string::npos);
  CHECK(c.request("GET", "/v1/views/tallies?version=2").status == 503);
  CHECK(c.request("GET", "/v1/views/tallies/T-1?version=3").status == 404);
  CHECK(c.request("GET", "/v1/views/tallies/T-1?version=0").status == 400);
  CHECK(c.request("GET", "/v1/views/tallies/T-1?version=x").status == 400);

  auto list = c.request("GET", "/v1/admin/views");
  REQUIRE(list.status == 200);
  CHECK(list.body.find(
            R"({"view":"tallies","version":1,"state":"serving","position":5,"lag":0,"parked":0,"build":null})") !=
        std::string::npos);
  CHECK(list.body.find(R"({"view":"tallies","version":2,"state":"building")") != std::string::npos);
  auto running = c.request("POST", "/v1/admin/views/tallies/rebuild", "{}");
  CHECK(running.status == 409);
  CHECK(running.body.find(R"("code":"rebuild_running")") != std::string::npos);
  CHECK(c.request("POST", "/v1/admin/views/nope/rebuild", "{}").status == 404);
  auto metrics = c.request("GET", "/metrics").body;
  CHECK(metrics.find(R"(sluice_view_build_position{view="tallies",version="2"})") != std::string::npos);

  tally::hold_v2() = false;
  auto deadline = std::chrono::steady_clock::now() + 30s;
  while (c.request("GET", "/v1/views/tallies/T-1?version=2").status != 200) {
    REQUIRE(std::chrono::steady_clock::now() < deadline);
    std::this_thread::sleep_for(5ms);
  }
  auto v2 = c.request("GET", "/v1/views/tallies/T-1");
  REQUIRE(v2.status == 200);
  CHECK(v2.body.find(R"("mean":0)") != std::string::npos);
  CHECK(c.request("GET", "/v1/views/tallies/T-1?version=1").status == 404); // retired

  auto rebuild = c.request("POST", "/v1/admin/views/tallies/rebuild", "{}");
  CHECK(rebuild.status == 202);
  CHECK(rebuild.body == R"({"view":"tallies","version":2})");
  deadline = std::chrono::steady_clock::now() + 30s;
  while (c.request("GET", "/v1/admin/views").body.find(R"("build":null)") == std::string::npos ||
         c.request("GET", "/v1/admin/views")
                 .body.find(R"("state":"serving","position":5,"lag":0,"parked":0,"build":null)") == std::string::npos) {
    REQUIRE(std::chrono::steady_clock::now() < deadline);
    std::this_thread::sleep_for(5ms);
  }
  metrics = c.request("GET", "/metrics").body;
  CHECK(metrics.find(R"(sluice_view_rebuilds_total{view="tallies"} 2)") != std::string::npos);
  CHECK(metrics.find(R"(sluice_view_lag_events{view="tallies"} 0)") != std::string::npos);
  CHECK(metrics.find(R"(sluice_view_parked_events{view="tallies"} 0)") != std::string::npos);
}

TEST_CASE("the error log over HTTP: reads, errors, replay, skip", "[views][errors][http]") {
  server_fixture f([](engine::options& o) {
    o.model = &tally::model();
    o.drill_fail_views = {{"tallies", "BAD"}};
  });
  http_client c(f.server->port());
  for (auto id : {"BAD-1", "BAD-2", "OK-1"})
    REQUIRE(c.request("POST", "/v1/commands",
                      fmt::format(R"({{"type":"tally.open","aggregate_id":"{}","payload":{{"limit":9}}}})", id))
                .status == 200);
  auto bad = c.request("GET", "/v1/views/tallies/BAD-1?min_position=3");
  REQUIRE(bad.status == 200);
  CHECK(bad.body.find(R"("value":null,"parked":1)") != std::string::npos);
  auto ok = c.request("GET", "/v1/views/tallies/OK-1?min_position=3");
  CHECK(ok.status == 200);
  CHECK(ok.body.find("parked") == std::string::npos);

  auto errors = c.request("GET", "/v1/admin/views/tallies/errors?limit=1");
  REQUIRE(errors.status == 200);
  CHECK(errors.body.find(R"("key":"BAD-1","position":1,"event_type":"tally.opened")") != std::string::npos);
  CHECK(errors.body.find(R"("attempts":1,"parked":1})") != std::string::npos);
  CHECK(errors.body.find(R"("next":"BAD-1")") != std::string::npos);
  auto second = c.request("GET", "/v1/admin/views/tallies/errors?after=BAD-1");
  CHECK(second.body.find(R"("key":"BAD-2")") != std::string::npos);
  CHECK(second.body.find(R"("next":null)") != std::string::npos);
  CHECK(c.request("GET", "/v1/admin/views/nope/errors").status == 404);

  auto replay = c.request("POST", "/v1/admin/views/tallies/errors/replay", "{}");
  CHECK(replay.status == 200);
  CHECK(replay.body == R"({"replayed":0,"still_parked":2})");
  CHECK(c.request("POST", "/v1/admin/views/tallies/errors/replay", R"({"key":"BAD-1"})").body ==
        R"({"replayed":0,"still_parked":1})");
  CHECK(c.request("POST", "/v1/admin/views/tallies/errors/replay", "[1]").status == 400);
  CHECK(c.request("POST", "/v1/admin/views/tallies/errors/skip", "{}").status == 400);
  CHECK(c.request("POST", "/v1/admin/views/tallies/errors/skip", R"({"key":7})").status == 400);
  CHECK(c.request("POST", "/v1/admin/views/tallies/errors/skip", R"({"key":"OK-1"})").status == 404);
  auto skip = c.request("POST", "/v1/admin/views/tallies/errors/skip", R"({"key":"BAD-2"})");
  CHECK(skip.status == 200);
  CHECK(skip.body == R"({"skipped":1})");
  CHECK(c.request("POST", "/v1/admin/views/nope/errors/skip", R"({"key":"x"})").status == 404);
  auto metrics = c.request("GET", "/metrics").body;
  CHECK(metrics.find(R"(sluice_view_parked_events{view="tallies"} 1)") != std::string::npos);
  auto views = c.request("GET", "/v1/admin/views").body;
  CHECK(views.find(R"("parked":1)") != std::string::npos);
}

TEST_CASE("the stream across a swap: version, view_building, a rebuilt snapshot, then changes",
          "[views][versions][http][stream]") {
  server_fixture f([](engine::options& o) {
    o.model = &tally::model();
    {
      auto first = start_engine(o);
      send_json(*first, R"({"type":"tally.open","aggregate_id":"T-1","payload":{"limit":99}})");
    }
    o.model = &v1_v2_model();
    tally::hold_v2() = true;
  });
  release_on_exit release;
  ws_client ws(f.server->port());
  ws.send(R"({"op":"subscribe","id":"b","view":"tallies","key":"T-1","version":2})");
  auto building = ws.receive();
  CHECK(json_field(building, "code") == "view_building");
  CHECK(json_field(building, "id") == "b");
  ws.send(R"({"op":"subscribe","id":"s","view":"tallies","key":"T-1","version":3})");
  CHECK(json_field(ws.receive(), "code") == "not_found");
  ws.send(R"({"op":"subscribe","id":"a","view":"tallies","key":"T-1"})");
  CHECK(json_field(ws.receive(), "type") == "subscribed");
  auto first = ws.receive();
  CHECK(json_field(first, "type") == "snapshot");
  CHECK(json_field(first, "value").find("mean") == std::string::npos); // version 1
  CHECK(json_field(first, "rebuilt").empty());

  tally::hold_v2() = false; // version 2 catches up and takes over
  auto rebuilt = ws.receive();
  CHECK(json_field(rebuilt, "type") == "snapshot");
  CHECK(json_field(rebuilt, "rebuilt") == "true");
  CHECK(json_field(rebuilt, "value").find(R"("mean")") != std::string::npos);
  auto at = std::stoull(json_field(rebuilt, "position"));

  http_client c(f.server->port());
  auto add = c.request("POST", "/v1/commands", R"({"type":"tally.add","aggregate_id":"T-1","payload":{"n":4}})");
  REQUIRE(add.status == 200);
  auto change = ws.receive();
  CHECK(json_field(change, "type") == "change");
  CHECK(std::stoull(json_field(change, "position")) > at);
  CHECK(json_field(change, "value").find(R"("total":4)") != std::string::npos);
  CHECK(json_field(change, "value").find(R"("mean")") != std::string::npos);
}

TEST_CASE("the stream tells a subscriber its key is parked, and serves its last good value",
          "[views][errors][http][stream]") {
  server_fixture f([](engine::options& o) {
    o.model = &tally::model();
    o.drill_fail_views = {{"tallies", "BAD"}};
  });
  ws_client ws(f.server->port());
  ws.send(R"({"op":"subscribe","id":"p","view":"tallies","key":"BAD-1"})");
  CHECK(json_field(ws.receive(), "type") == "subscribed");
  CHECK(json_field(ws.receive(), "type") == "snapshot"); // nothing yet: value null
  http_client c(f.server->port());
  REQUIRE(c.request("POST", "/v1/commands", R"({"type":"tally.open","aggregate_id":"BAD-1","payload":{"limit":9}})")
              .status == 200);
  auto parked = ws.receive();
  CHECK(json_field(parked, "type") == "parked");
  CHECK(json_field(parked, "id") == "p");
  CHECK(json_field(parked, "view") == "tallies");
  CHECK(json_field(parked, "key") == "BAD-1");
  CHECK(json_field(parked, "position") == "1");
  CHECK_FALSE(json_field(parked, "error").empty());
}
