// The route table and its handlers, without sockets: requests go straight
// to route() over the fuzz targets' stub engine.
#include "http/routes.h"

#include "stub_engine.h"
#include "temp_dir.h"

#include <catch2/catch.hpp>
#include <simdjson.h>

#include <cctype>
#include <filesystem>
#include <fstream>
#include <optional>
#include <set>

using namespace sluice;

namespace {

struct stub {
  testing::temp_dir dir;
  std::unique_ptr<fuzz::stub_engine> engine;
  http::limits limits;

  stub() {
    auto log = log::event_log::open({dir.path() / "log", log::durability::none});
    REQUIRE(log);
    engine = std::make_unique<fuzz::stub_engine>(std::move(*log));
  }

  http::reply call(std::string_view method, std::string_view target, std::string body = {}) {
    std::optional<http::reply> got;
    http::route(*engine, limits, method, target, std::move(body), [&](http::reply r) { got = std::move(r); });
    REQUIRE(got); // the stub answers at once
    return std::move(*got);
  }
};

} // namespace

TEST_CASE("every path resolves to exactly its routes' methods", "[http][routes]") {
  using kind = http::resolution::kind;
  auto r = http::resolve("GET", "/v1/views/order_summary/ORD-1");
  REQUIRE(r.result == kind::found);
  CHECK(r.matched->pattern == "/v1/views/{view}/{key}");
  CHECK(r.params[0] == "order_summary");
  CHECK(r.params[1] == "ORD-1");
  CHECK(http::resolve("HEAD", "/v1/views/v").result == kind::found);
  auto post = http::resolve("POST", "/v1/views/v");
  CHECK(post.result == kind::method_not_allowed);
  CHECK(post.allow == "GET, HEAD");
  CHECK(http::resolve("GET", "/v1/commands").allow == "POST");
  CHECK(http::resolve("GET", "/").result == kind::found);         // the dashboard
  CHECK(http::resolve("GET", "/v1/views").result == kind::found); // the list of views
  for (auto path :
       {"/v1", "/v1/views/", "/v1/views/a/b/c", "/v1/aggregates//events", "/v1/commands/", "/healthz/x", ""})
    CHECK(http::resolve("GET", path).result == kind::not_found);
  // Every endpoint in the table resolves to itself.
  for (auto& e : http::endpoints()) {
    std::string path(e.pattern);
    for (size_t at; (at = path.find('{')) != std::string::npos;)
      path.replace(at, path.find('}') - at + 1, "p");
    auto found = http::resolve(e.method, path);
    INFO(path);
    REQUIRE(found.result == kind::found);
    CHECK(found.matched == &e);
  }
}

TEST_CASE("the body limit is the route's", "[http][routes]") {
  http::limits l;
  CHECK(http::body_limit(http::resolve("POST", "/v1/commands"), l) == l.command_body_bytes);
  CHECK(http::body_limit(http::resolve("POST", "/v1/commands/batch"), l) == l.batch_body_bytes);
  CHECK(http::body_limit(http::resolve("GET", "/v1/events"), l) == 0);
  CHECK(http::body_limit(http::resolve("PUT", "/v1/commands"), l) == 0);
}

TEST_CASE("handlers answer through the table", "[http][routes]") {
  stub s;
  CHECK(s.call("GET", "/healthz").body == R"({"ok":true})");
  CHECK(s.call("GET", "/readyz").status == 200);
  auto r = s.call("POST", "/v1/commands", R"({"type":"account.open","aggregate_id":"A","payload":{"owner":"o"}})");
  CHECK(r.status == 200);
  CHECK(s.call("POST", "/v1/commands", "{x").status == 400);
  CHECK(s.engine->invalid() == 1);
  r = s.call("DELETE", "/v1/commands");
  CHECK(r.status == 405);
  REQUIRE(r.headers.size() == 1);
  CHECK(r.headers[0] == std::pair<std::string, std::string>("Allow", "POST"));
  CHECK(s.call("GET", "/nope").status == 404);
  CHECK(s.call("GET", "/v1/stream").status == 426);
  CHECK(s.call("GET", "/v1/views/%zz").status == 400);
  CHECK(s.call("GET", "/v1/events?from=x").status == 400);
  CHECK(s.call("GET", "/v1/events?from=%").status == 400);
  CHECK(s.call("GET", "/v1/aggregates/A/events").status == 404); // the stub keeps no index
}

namespace {

std::string read_whole(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  REQUIRE(in);
  return {std::istreambuf_iterator<char>(in), {}};
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

} // namespace

TEST_CASE("docs/openapi.json describes exactly the routes, and /v1/openapi.json serves it", "[http][routes][openapi]") {
  auto text = read_whole(std::filesystem::path(SLUICE_SOURCE_DIR) / "docs" / "openapi.json");
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  REQUIRE(parser.parse(text).get(doc) == simdjson::SUCCESS);
  simdjson::dom::object paths;
  REQUIRE(doc["paths"].get(paths) == simdjson::SUCCESS);

  // Every route is in the document …
  std::set<std::pair<std::string, std::string>> routes, documented;
  for (auto& e : http::endpoints())
    routes.emplace(lower(e.method), std::string(e.pattern));
  // … and every operation of the document is a route.
  for (auto [path, item] : paths) {
    simdjson::dom::object ops;
    REQUIRE(item.get(ops) == simdjson::SUCCESS);
    for (auto [method, op] : ops) {
      documented.emplace(std::string(method), std::string(path));
      simdjson::dom::object responses;
      INFO(method << " " << path);
      REQUIRE(op["responses"].get(responses) == simdjson::SUCCESS);
      CHECK(responses.size() > 0);
    }
  }
  for (auto& r : routes) {
    INFO("route " << r.first << " " << r.second);
    CHECK(documented.contains(r));
  }
  for (auto& d : documented) {
    INFO("documented " << d.first << " " << d.second);
    CHECK(routes.contains(d));
  }

  stub s;
  auto served = s.call("GET", "/v1/openapi.json");
  CHECK(served.status == 200);
  CHECK(served.content_type == "application/json");
  CHECK(served.body == text);
}
