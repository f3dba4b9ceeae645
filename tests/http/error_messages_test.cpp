// Every error answer of the HTTP API says what was wrong with which input,
// and where a name was misspelt, what exists (SPEC §2 as amended, §5).
#include "http/server.h"

#include "client.h"
#include "server_fixture.h"

#include <catch2/catch.hpp>
#include <fmt/format.h>
#include <simdjson.h>

#include <string>
#include <vector>

using namespace sluice;
using sluice::testing::http_client;

namespace {

struct answer {
  int status = 0;
  std::string code, message;
};

answer ask(http_client& c, const std::string& method, const std::string& target, const std::string& body = {},
           const std::string& type = "application/json") {
  auto r = c.request(method, target, body, type);
  answer a{r.status, {}, {}};
  simdjson::dom::parser p;
  simdjson::dom::element e;
  INFO(r.body);
  REQUIRE(p.parse(r.body).get(e) == simdjson::SUCCESS);
  std::string_view code, message;
  REQUIRE(e["error"]["code"].get(code) == simdjson::SUCCESS);
  REQUIRE(e["error"]["message"].get(message) == simdjson::SUCCESS);
  a.code = code;
  a.message = message;
  return a;
}

struct bad_input {
  std::string method, target, body;
  int status;
  std::string code;
  std::vector<std::string> says; ///< what the message must name
};

} // namespace

TEST_CASE("every error answer names the offending input, and what was meant where it can tell", "[http][errors]") {
  sluice::testing::server_fixture f;
  http_client c(f.server->port());
  auto cmd = [](std::string_view members) { return fmt::format("{{{}}}", members); };
  REQUIRE(c.request("POST", "/v1/commands",
                    cmd(R"("type":"order.create","aggregate_id":"ORD-1","payload":{"customer_id":"C-1"})"))
              .status == 200);
  std::vector<bad_input> cases = {
      // A typo must never switch a check off (SPEC §2).
      {"POST",
       "/v1/commands",
       cmd(R"("type":"order.add_item","aggregate_id":"ORD-1","expected_versoin":3,"payload":{"product":"P","qty":1,"price":1})"),
       400,
       "invalid_command",
       {"expected_versoin", "did you mean 'expected_version'"}},
      {"POST",
       "/v1/commands",
       cmd(R"("type":"order.create","aggregate_id":"ORD-2","commandId":"c-1","payload":{"customer_id":"C-1"})"),
       400,
       "invalid_command",
       {"commandId", "did you mean 'command_id'"}},
      {"POST",
       "/v1/commands",
       cmd(R"("type":"order.create","aggregate_id":"ORD-3","payload":{"customer_id":"C-1","extra":1})"),
       400,
       "invalid_command",
       {"payload.extra", "customer_id"}},
      {"POST",
       "/v1/commands",
       cmd(R"("type":"order.create","aggregate_id":"ORD-3","payload":{"customer":"C-1"})"),
       400,
       "invalid_command",
       {"payload.customer", "did you mean 'customer_id'"}},
      {"POST",
       "/v1/commands",
       cmd(R"("type":"order.crate","aggregate_id":"ORD-3","payload":{})"),
       400,
       "unknown_command",
       {"order.crate", "did you mean 'order.create'", "order.add_item", "account.open"}},
      {"POST",
       "/v1/commands",
       cmd(R"("type":"order.create","aggregate_id":7,"payload":{})"),
       400,
       "invalid_command",
       {"aggregate_id"}},
      {"POST",
       "/v1/commands",
       cmd(R"("type":"order.add_item","aggregate_id":"ORD-1","payload":{"product":"P","qty":0,"price":1})"),
       400,
       "invalid_command",
       {"payload.qty", "from 1"}},
      {"POST", "/v1/commands", "{\"type\":", 400, "bad_request", {"malformed JSON"}},
      {"POST",
       "/v1/commands",
       cmd(R"("type":"order.create","aggregate_id":"ORD-1","payload":{"customer_id":"C-1"})"),
       422,
       "rejected",
       {"already exists"}},
      {"GET",
       "/v1/views/order_sumary/ORD-1",
       "",
       404,
       "not_found",
       {"order_sumary", "did you mean 'order_summary'", "customer_orders", "GET /v1/views"}},
      {"GET", "/v1/views/order_sumary", "", 404, "not_found", {"order_sumary", "did you mean 'order_summary'"}},
      {"GET", "/v1/views/order_summary/ORD-1?version=9", "", 404, "not_found", {"version 9", "1 (serving)"}},
      {"GET", "/v1/views/order_summary/NOPE", "", 404, "not_found", {"NOPE", "order_summary"}},
      {"GET", "/v1/views/order_summary/ORD-1?min_position=x", "", 400, "bad_request", {"min_position"}},
      {"GET", "/v1/events?limit=0", "", 400, "bad_request", {"limit"}},
      {"GET", "/v1/aggregates/NOBODY/events", "", 404, "not_found", {"NOBODY"}},
      {"GET", "/v1/admin/cluster", "", 404, "not_found", {"alone", "--cluster"}},
      {"GET", "/v1/evnets", "", 404, "not_found", {"/v1/evnets", "did you mean '/v1/events'", "/v1/commands"}},
      {"DELETE", "/v1/commands", "", 405, "method_not_allowed", {"POST"}},
      {"POST", "/v1/admin/views/order_sumary/rebuild", "", 404, "not_found", {"order_sumary", "order_summary"}},
  };
  for (auto& k : cases) {
    INFO(k.method << " " << k.target << " " << k.body);
    auto a = ask(c, k.method, k.target, k.body);
    CHECK(a.status == k.status);
    CHECK(a.code == k.code);
    for (auto& s : k.says) {
      INFO("message: " << a.message << "; should say: " << s);
      CHECK(a.message.find(s) != std::string::npos);
    }
  }
}

TEST_CASE("a batch line with a misspelt field fails alone, naming it", "[http][errors]") {
  sluice::testing::server_fixture f;
  http_client c(f.server->port());
  auto r = c.request("POST", "/v1/commands/batch",
                     "{\"type\":\"order.create\",\"aggregate_id\":\"B-1\",\"payload\":{\"customer_id\":\"C\"}}\n"
                     "{\"type\":\"order.create\",\"aggregate_id\":\"B-2\",\"expected_versoin\":0,\"payload\":{"
                     "\"customer_id\":\"C\"}}\n"
                     "{\"type\":\"order.create\",\"aggregate_id\":\"B-3\",\"correlation_id\":\"corr-1\",\"payload\":{"
                     "\"customer_id\":\"C\"}}\n",
                     "application/x-ndjson");
  REQUIRE(r.status == 200);
  std::vector<std::string> lines;
  for (size_t at = 0, end; (end = r.body.find('\n', at)) != std::string::npos; at = end + 1)
    lines.push_back(r.body.substr(at, end - at));
  REQUIRE(lines.size() == 3);
  CHECK(lines[0].find("\"ok\":true") != std::string::npos);
  CHECK(lines[1].find("\"status\":400") != std::string::npos);
  CHECK(lines[1].find("expected_versoin") != std::string::npos);
  CHECK(lines[1].find("did you mean 'expected_version'") != std::string::npos);
  CHECK(lines[2].find("\"ok\":true") != std::string::npos); // correlation_id is part of the envelope
  // The misspelt line changed nothing.
  CHECK(c.request("GET", "/v1/aggregates/B-2/events").status == 404);
}

TEST_CASE("GET /v1/views lists every view with its versions", "[http][errors]") {
  sluice::testing::server_fixture f;
  http_client c(f.server->port());
  auto r = c.request("GET", "/v1/views");
  REQUIRE(r.status == 200);
  simdjson::dom::parser p;
  simdjson::dom::element e;
  REQUIRE(p.parse(r.body).get(e) == simdjson::SUCCESS);
  simdjson::dom::array views;
  REQUIRE(e["views"].get(views) == simdjson::SUCCESS);
  std::vector<std::string> names;
  for (auto v : views) {
    std::string_view name;
    REQUIRE(v["view"].get(name) == simdjson::SUCCESS);
    names.emplace_back(name);
    uint64_t version = 0;
    CHECK(v["version"].get(version) == simdjson::SUCCESS);
    CHECK(version >= 1);
    simdjson::dom::array versions;
    REQUIRE(v["versions"].get(versions) == simdjson::SUCCESS);
    CHECK(versions.size() >= 1);
  }
  CHECK(std::ranges::find(names, "order_summary") != names.end());
  CHECK(std::ranges::find(names, "customer_orders") != names.end());
  CHECK(std::ranges::find(names, "account_balance") != names.end());
}
