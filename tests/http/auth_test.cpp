// Access control (SPEC §11): the auth file, bearer parsing, and the matrix
// of endpoints × callers over HTTP, batch lines and WebSocket ops; reloads
// and revocation; CORS.
#include "client.h"
#include "http/auth.h"
#include "server_fixture.h"
#include "ws_client.h"

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <map>
#include <set>
#include <thread>

using namespace sluice;
using namespace sluice::testing;
using namespace std::chrono_literals;
namespace auth = sluice::http::auth;

namespace {

std::string entry(const std::string& name, const std::string& token, const std::vector<std::string>& grants) {
  std::string list;
  for (auto& g : grants)
    list += (list.empty() ? "" : ",") + fmt::format(R"("{}")", g);
  return fmt::format(R"({{"name":"{}","sha256":"{}","grants":[{}]}})", name, auth::to_hex(auth::sha256(token)), list);
}

// One caller per grant of SPEC §11, named by its token.
const std::vector<std::pair<std::string, std::vector<std::string>>> k_callers = {
    {"t-orders", {"commands:order"}}, {"t-commands", {"commands:*"}}, {"t-summary", {"views:order_summary"}},
    {"t-views", {"views:*"}},         {"t-events", {"events"}},       {"t-metrics", {"metrics"}},
    {"t-admin", {"admin"}},
};

std::shared_ptr<const auth::table> table_of(const std::vector<std::pair<std::string, std::vector<std::string>>>& who) {
  std::string json = R"({"tokens":[)";
  for (size_t i = 0; i < who.size(); ++i)
    json += (i ? "," : "") + entry(who[i].first, who[i].first, who[i].second);
  json += "]}";
  auto t = auth::table::parse(json);
  REQUIRE(t);
  return std::make_shared<const auth::table>(std::move(*t));
}

struct auth_server {
  std::shared_ptr<auth::authority> authority = std::make_shared<auth::authority>(table_of(k_callers));
  server_fixture f{{}, {}, builtin::model(), [this](http::server_options& o) {
                     o.auth = authority;
                     o.cors_origins = {"https://app.example"};
                   }};
  uint16_t port() const { return f.server->port(); }
};

http_response as(uint16_t port, const std::string& token, const std::string& method, const std::string& target,
                 const std::string& body = {}, const std::string& type = "application/json") {
  http_client c(port);
  if (!token.empty())
    c.set_header("Authorization", "Bearer " + token);
  return c.request(method, target, body, type);
}

const std::string k_order = R"({"type":"order.create","aggregate_id":"O-1","payload":{"customer_id":"C"}})";
const std::string k_account = R"({"type":"account.open","aggregate_id":"A-1","payload":{"owner":"Ada"}})";

} // namespace

TEST_CASE("the auth file is validated with errors that say what is wrong", "[http][auth]") {
  auto err = [](std::string_view json) {
    auto t = auth::table::parse(json);
    REQUIRE_FALSE(t);
    return t.error();
  };
  CHECK(err("{").find("not valid JSON") != std::string::npos);
  CHECK(err(R"({"users":[]})").find(R"(expected {"tokens")") != std::string::npos);
  auto good = entry("a", "x", {"events"});
  CHECK(err(fmt::format(R"({{"tokens":[{},{}]}})", good, entry("a", "y", {"events"})))
            .find("tokens[1] (a): a second token with this name") != std::string::npos);
  CHECK(err(fmt::format(R"({{"tokens":[{},{}]}})", good, entry("b", "x", {"events"}))).find("same sha256") !=
        std::string::npos);
  CHECK(err(R"({"tokens":[{"name":"a","sha256":"abc","grants":[]}]})").find("64 hex digits, not 3") !=
        std::string::npos);
  CHECK(err(fmt::format(R"({{"tokens":[{{"name":"a","sha256":"{}","grants":[]}}]}})", std::string(64, 'g')))
            .find("64 hex digits") != std::string::npos);
  CHECK(err(fmt::format(R"({{"tokens":[{}]}})", entry("a", "x", {"views:*", "commandz:order"})))
            .find("unknown grant 'commandz:order'") != std::string::npos);
  CHECK(err(fmt::format(R"({{"tokens":[{}]}})", entry("a", "x", {"commands:"}))).find("unknown grant") !=
        std::string::npos);
  CHECK(err(R"({"tokens":[{"sha256":"x","grants":[]}]})").find("tokens[0]: name") != std::string::npos);
  CHECK(err(fmt::format(R"({{"tokens":[{{"name":"a","sha256":"{}","grants":"admin"}}]}})",
                        auth::to_hex(auth::sha256("x"))))
            .find("grants must be an array") != std::string::npos);

  auto t = auth::table::parse(fmt::format(R"({{"tokens":[{},{}]}})", good, entry("b", "y", {"commands:order"})));
  REQUIRE(t);
  CHECK(t->size() == 2);
  REQUIRE(t->find("x"));
  CHECK(t->find("x")->name == "a");
  CHECK(t->find("x")->rights.events);
  CHECK(t->find("y")->rights.may_command("order"));
  CHECK_FALSE(t->find("y")->rights.may_command("account"));
  CHECK_FALSE(t->find("z"));
  CHECK_FALSE(t->find(""));
}

TEST_CASE("SHA-256, new tokens and the Authorization header", "[http][auth]") {
  CHECK(auth::to_hex(auth::sha256("abc")) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  std::set<std::string> seen;
  for (int i = 0; i < 100; ++i) {
    auto t = auth::new_token();
    CHECK(t.size() == 43); // 256 bits in base64url
    CHECK(t.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") == std::string::npos);
    seen.insert(t);
  }
  CHECK(seen.size() == 100);
  CHECK(auth::bearer("Bearer abc") == "abc");
  CHECK(auth::bearer("bearer abc") == "abc");
  CHECK(auth::bearer("BEARER   abc  ") == "abc");
  CHECK_FALSE(auth::bearer("Basic abc"));
  CHECK_FALSE(auth::bearer("Bearer"));
  CHECK_FALSE(auth::bearer("Bearer "));
  CHECK_FALSE(auth::bearer("Bearerabc"));
  CHECK_FALSE(auth::bearer("Bearer a b"));
  CHECK(auth::valid_grant("commands:order"));
  CHECK(auth::valid_grant("views:*"));
  CHECK_FALSE(auth::valid_grant("view:order_summary"));
  CHECK_FALSE(auth::valid_grant("superuser"));
}

TEST_CASE("every endpoint answers each caller as SPEC §11 says", "[http][auth]") {
  auth_server s;
  // Something to read: an order, made by the commands:* token.
  REQUIRE(as(s.port(), "t-commands", "POST", "/v1/commands", k_order).status == 200);
  REQUIRE(as(s.port(), "t-views", "GET", "/v1/views/order_summary/O-1?min_position=1").status == 200);

  struct row {
    std::string method, target, body;
    std::map<std::string, int> allowed; ///< token → status (0: any but 401/403); any other known token: 403
    int fallback = 403;
  };
  const std::vector<row> rows = {
      {"GET", "/healthz", "", {}, 200},
      {"GET", "/readyz", "", {}, 200},
      {"GET", "/", "", {}, 200}, // the dashboard page holds no data: it asks for a token
      {"GET", "/v1/openapi.json", "", {}, 200},
      {"POST", "/v1/commands", k_order, {{"t-orders", 0}, {"t-commands", 0}}}, // 422 once O-1 exists
      {"POST", "/v1/commands", k_account, {{"t-commands", 0}}},
      {"GET", "/v1/events", "", {{"t-events", 200}}},
      {"GET", "/v1/aggregates/O-1/events", "", {{"t-events", 200}}},
      {"GET", "/v1/views/order_summary/O-1", "", {{"t-summary", 200}, {"t-views", 200}}},
      {"GET", "/v1/views/order_summary", "", {{"t-summary", 200}, {"t-views", 200}}},
      {"GET", "/v1/views/customer_orders/C", "", {{"t-views", 200}}},
      {"GET", "/v1/views/no_such_view/k", "", {{"t-views", 404}}}, // 403 whether or not it exists
      {"GET", "/metrics", "", {{"t-metrics", 200}}},
      {"GET", "/v1/admin/status", "", {{"t-metrics", 200}}},
      {"GET", "/v1/admin/views", "", {{"t-admin", 200}}},
      {"GET", "/v1/admin/views/order_summary/errors", "", {{"t-admin", 200}}},
      {"POST", "/v1/admin/views/order_summary/errors/replay", "{}", {{"t-admin", 200}}},
      {"GET", "/no/such/path", "", {}, 404},
      {"GET", "/v1/stream", "", {}, 426}, // not an upgrade: any known token learns that
  };
  int checked = 0;
  for (auto& r : rows) {
    bool open = r.target == "/healthz" || r.target == "/readyz" || r.target == "/" || r.target == "/v1/openapi.json";
    for (const std::string& token : {std::string(), std::string("t-unknown")}) {
      INFO(r.method << " " << r.target << " as " << (token.empty() ? "nobody" : token));
      auto got = as(s.port(), token, r.method, r.target, r.body);
      if (open) {
        CHECK(got.status == 200);
        continue;
      }
      CHECK(got.status == 401);
      CHECK(json_field(got.body, "error").find(R"("code":"unauthorized")") != std::string::npos);
      CHECK(got.header("WWW-Authenticate") == R"(Bearer realm="sluice")");
      ++checked;
    }
    for (auto& [token, grants] : k_callers) {
      INFO(r.method << " " << r.target << " as " << token);
      auto got = as(s.port(), token, r.method, r.target, r.body);
      auto it = r.allowed.find(token);
      int want = it != r.allowed.end() ? it->second : r.fallback;
      if (want == 0)
        CHECK((got.status != 401 && got.status != 403));
      else
        CHECK(got.status == want);
      if (want == 403)
        CHECK(json_field(got.body, "error").find(R"("code":"forbidden")") != std::string::npos);
      ++checked;
    }
  }
  CHECK(checked == 15 * 2 + 19 * 7);
  auto metrics = as(s.port(), "t-metrics", "GET", "/metrics").body;
  CHECK(metrics.find("sluice_auth_denied_total{reason=\"unauthorized\"} 30") != std::string::npos);
  CHECK(metrics.find("sluice_auth_denied_total{reason=\"forbidden\"}") != std::string::npos);
}

TEST_CASE("batch lines outside the grants fail alone with 403", "[http][auth]") {
  auth_server s;
  auto batch = k_order + "\n" + k_account + "\n" + "{\"type\":\"order.create\"}\n";
  auto lines = [](const std::string& body) {
    std::vector<std::string> out;
    for (size_t at = 0; at < body.size();) {
      auto nl = body.find('\n', at);
      out.push_back(json_field(body.substr(at, nl - at), "status"));
      at = nl + 1;
    }
    return out;
  };
  CHECK(as(s.port(), "", "POST", "/v1/commands/batch", batch, "application/x-ndjson").status == 401);
  auto orders = as(s.port(), "t-orders", "POST", "/v1/commands/batch", batch, "application/x-ndjson");
  REQUIRE(orders.status == 200);
  CHECK(lines(orders.body) == std::vector<std::string>{"200", "403", "400"});
  // No commands: grant at all: 200, and every valid line 403.
  auto reader = as(s.port(), "t-summary", "POST", "/v1/commands/batch", batch, "application/x-ndjson");
  REQUIRE(reader.status == 200);
  CHECK(lines(reader.body) == std::vector<std::string>{"403", "403", "400"});
  auto all = as(s.port(), "t-commands", "POST", "/v1/commands/batch", batch, "application/x-ndjson");
  CHECK(lines(all.body) == std::vector<std::string>{"422", "200", "400"}); // O-1 exists by now
}

TEST_CASE("WebSocket: the token comes with the upgrade; each subscribe is checked", "[http][auth][stream]") {
  auth_server s;
  using headers = std::vector<std::pair<std::string, std::string>>;
  CHECK(ws_client::upgrade_status(s.port(), "/v1/stream", {}) == 401);
  CHECK(ws_client::upgrade_status(s.port(), "/v1/stream", {{"Authorization", "Bearer nope"}}) == 401);
  CHECK(ws_client::upgrade_status(s.port(), "/v1/stream?access_token=nope", {}) == 401);
  CHECK(ws_client::upgrade_status(s.port(), "/v1/stream?access_token=t-summary", {}) == 101);

  ws_client summary(s.port(), "/v1/stream", headers{{"Authorization", "Bearer t-summary"}});
  summary.send(R"({"op":"subscribe","id":"a","view":"customer_orders","key":"C"})");
  auto refused = summary.receive();
  CHECK(json_field(refused, "code") == "forbidden");
  CHECK(json_field(refused, "id") == "a");
  summary.send(R"({"op":"subscribe","id":"e","events":true})");
  CHECK(json_field(summary.receive(), "code") == "forbidden");
  summary.send(R"({"op":"subscribe","id":"b","view":"order_summary","key":"O-9"})");
  CHECK(json_field(summary.receive(), "type") == "subscribed"); // the connection stayed open
  CHECK(json_field(summary.receive(), "type") == "snapshot");

  ws_client events(s.port(), "/v1/stream?access_token=t-events", {});
  events.send(R"({"op":"subscribe","id":"e","events":true,"from_position":1})");
  CHECK(json_field(events.receive(), "type") == "subscribed");
  events.send(R"({"op":"subscribe","id":"v","view":"order_summary","key":"*"})");
  CHECK(json_field(events.receive(), "code") == "forbidden");
}

TEST_CASE("a reload revokes a token: its requests get 401, its streams close", "[http][auth][stream]") {
  auth_server s;
  http_client c(s.port());
  c.set_header("Authorization", "Bearer t-views");
  CHECK(c.request("GET", "/v1/views/order_summary").status == 200);
  ws_client views(s.port(), "/v1/stream?access_token=t-views", {});
  views.send(R"({"op":"subscribe","id":"a","view":"order_summary","key":"*"})");
  CHECK(json_field(views.receive(), "type") == "subscribed");
  // Narrowed, not revoked: t-summary loses nothing it uses; t-events loses its grant.
  ws_client events(s.port(), "/v1/stream?access_token=t-events", {});
  events.send(R"({"op":"subscribe","id":"e","events":true})");
  CHECK(json_field(events.receive(), "type") == "subscribed");

  s.authority->replace(table_of({{"t-events", {"metrics"}}, {"t-admin", {"admin"}}}));
  CHECK(c.request("GET", "/v1/views/order_summary").status == 401); // the same connection: the cache is stale
  CHECK(views.await_close() == 1008);
  auto lost = events.receive();
  CHECK(json_field(lost, "code") == "forbidden");
  CHECK(json_field(lost, "id") == "e");
  CHECK(as(s.port(), "t-admin", "GET", "/v1/admin/views").status == 200);
}

TEST_CASE("CORS: preflights, allowed origins on answers, and the stream's Origin check", "[http][auth][cors]") {
  auth_server s;
  http_client c(s.port());
  c.set_header("Origin", "https://app.example");
  c.set_header("Access-Control-Request-Method", "POST");
  auto pre = c.request("OPTIONS", "/v1/commands");
  CHECK(pre.status == 204);
  CHECK(pre.header("Access-Control-Allow-Origin") == "https://app.example");
  CHECK(pre.header("Access-Control-Allow-Headers").find("Authorization") != std::string::npos);
  CHECK(pre.header("Access-Control-Allow-Headers").find("Content-Type") != std::string::npos);
  CHECK(pre.header("Access-Control-Allow-Methods").find("POST") != std::string::npos);
  CHECK(pre.header("Content-Length").empty());
  c.set_header("Authorization", "Bearer t-views");
  auto read = c.request("GET", "/v1/views/order_summary");
  CHECK(read.status == 200);
  CHECK(read.header("Access-Control-Allow-Origin") == "https://app.example");
  CHECK(read.header("Vary") == "Origin");
  CHECK(read.header("Access-Control-Expose-Headers") == "Retry-After, Sluice-History-Truncated");

  http_client evil(s.port());
  evil.set_header("Origin", "https://evil.example");
  auto refused = evil.request("OPTIONS", "/v1/commands");
  CHECK(refused.status == 403);
  CHECK(refused.header("Access-Control-Allow-Origin").empty());
  CHECK(evil.request("GET", "/healthz").header("Access-Control-Allow-Origin").empty());

  using headers = std::vector<std::pair<std::string, std::string>>;
  CHECK(ws_client::upgrade_status(s.port(), "/v1/stream?access_token=t-views",
                                  headers{{"Origin", "https://evil.example"}}) == 403);
  CHECK(ws_client::upgrade_status(s.port(), "/v1/stream?access_token=t-views",
                                  headers{{"Origin", "https://app.example"}}) == 101);
  CHECK(ws_client::upgrade_status(s.port(), "/v1/stream?access_token=t-views", {}) == 101); // not a browser
}

TEST_CASE("without auth nothing is checked and without CORS no header is added", "[http][auth]") {
  server_fixture f;
  http_client c(f.server->port());
  c.set_header("Origin", "https://app.example");
  auto r = c.request("POST", "/v1/commands", k_order);
  CHECK(r.status == 200);
  CHECK(r.header("Access-Control-Allow-Origin").empty());
  CHECK(c.request("OPTIONS", "/v1/commands").status == 403);
  CHECK(ws_client::upgrade_status(f.server->port(), "/v1/stream", {}) == 101);
}
