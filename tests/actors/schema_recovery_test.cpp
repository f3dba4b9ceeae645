// A log written before schema versions (tests/fixtures/v1-log, by the build
// of commit d584412) recovers to the same events and views, plus what SPEC
// §12 adds: "schema", the sku upcast into each item_added, order_summary.skus.
#include "builtin/builtin.h"
#include "codec/json_writer.h"
#include "domain/event_json.h"
#include "domain/order.h"
#include "engine_fixture.h"
#include "temp_dir.h"

#include <catch2/catch.hpp>

#include <cmath>

#include <fstream>
#include <map>
#include <future>
#include <simdjson.h>
#include <sstream>

using namespace sluice;

namespace {

const std::filesystem::path k_fixture = SLUICE_FIXTURES "/v1-log";

std::vector<std::string> lines_of(const std::filesystem::path& p) {
  std::ifstream in(p);
  REQUIRE(in);
  std::vector<std::string> out;
  for (std::string l; std::getline(in, l);)
    if (!l.empty())
      out.push_back(l);
  return out;
}

void insert_after(std::string& s, std::string_view marker, std::string_view text) {
  auto at = s.find(marker);
  REQUIRE(at != std::string::npos);
  s.insert(at + marker.size(), text);
}

// The Event JSON today's build must show for a line the old build printed.
std::string upgraded_event(const std::string& old) {
  simdjson::dom::parser p;
  simdjson::dom::element e = p.parse(old);
  std::string type{std::string_view(e["type"])};
  std::string out = old;
  bool item_added = type == "order.item_added";
  // account.deposited and withdrawn gained an optional transfer_id (schema 2).
  bool v2 = item_added || type == "account.deposited" || type == "account.withdrawn";
  insert_after(out, "\"type\":\"" + type + "\"", v2 ? R"(,"schema":2)" : R"(,"schema":1)");
  if (item_added) {
    std::string sku;
    codec::json_writer w(sku);
    w.string(domain::order::default_sku(std::string_view(e["data"]["product"])));
    REQUIRE(out.ends_with("}}"));
    out.insert(out.size() - 2, ",\"sku\":" + sku);
  }
  return out;
}

// The raw text of the JSON object starting at `at` in `s` (numbers as
// written: a parser would turn 5.00 into 5.0).
std::string object_at(const std::string& s, size_t at) {
  size_t depth = 0;
  bool in_string = false;
  for (size_t i = at; i < s.size(); ++i) {
    char c = s[i];
    if (in_string) {
      if (c == '\\')
        ++i;
      else if (c == '"')
        in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '{') {
      ++depth;
    } else if (c == '}' && --depth == 0) {
      return s.substr(at, i + 1 - at);
    }
  }
  FAIL("unterminated object in " << s);
  return {};
}

} // namespace

TEST_CASE("a log written before schema versions recovers to identical events and views", "[schema]") {
  testing::temp_dir dir;
  std::filesystem::copy(k_fixture / "log", dir.path() / "log", std::filesystem::copy_options::recursive);
  auto e = testing::start_engine(dir.path());

  auto expected = lines_of(k_fixture / "events.ndjson");
  std::vector<std::string> shown;
  REQUIRE(e->log().read(1, SIZE_MAX, [&](const log::record& r) {
    std::string j;
    codec::json_writer w(j);
    domain::write_event_json(e->model().types(), r, w);
    shown.push_back(j);
    return true;
  }));
  REQUIRE(shown.size() == expected.size());
  for (size_t i = 0; i < shown.size(); ++i) {
    INFO(expected[i]);
    CHECK(shown[i] == upgraded_event(expected[i]));
  }

  // Views: every key's value as before; order_summary gains the skus of its
  // lines in line order.
  std::map<std::string, std::vector<std::string>> skus = {
      {"ORD-1", {"USB-CABLE", "A---B", "LAPTOP-STAND"}},
      {"ORD-2", {"CAFé-CRèME"}},
      {"ORD-3", {"-LEAD-SPACE-"}},
      {"ORD-4", {std::string(62, 'X') + "é"}},
  };
  simdjson::dom::parser p;
  for (auto& line : lines_of(k_fixture / "views.ndjson")) {
    simdjson::dom::element old = p.parse(line);
    std::string view{std::string_view(old["view"])};
    std::promise<engine::view_page> page;
    REQUIRE(e->list_view(view, "", 100, [&](engine::view_page pg) { page.set_value(std::move(pg)); }));
    auto got = page.get_future().get();
    simdjson::dom::array items = old["items"];
    REQUIRE(got.items.size() == items.size());
    size_t i = 0;
    for (simdjson::dom::element item : items) {
      std::string key{std::string_view(item["key"])};
      INFO(view << " " << key);
      CHECK(got.items[i].key == key);
      CHECK(got.items[i].changed_at == uint64_t(item["changed_at"]));
      auto marker =
          R"("key":")" + key + R"(","changed_at":)" + std::to_string(uint64_t(item["changed_at"])) + R"(,"value":)";
      auto at = line.find(marker);
      REQUIRE(at != std::string::npos);
      std::string want = object_at(line, at + marker.size());
      if (view == "order_summary") {
        std::string list = "[";
        for (auto& s : skus.at(key)) {
          if (list.size() > 1)
            list += ',';
          codec::json_writer w(list);
          w.string(s);
        }
        list += ']';
        auto total = want.find(R"("total":)");
        REQUIRE(total != std::string::npos);
        want.insert(want.find(',', total), ",\"skus\":" + list);
      }
      if (view == "customer_orders") { // version 2 adds total_spent
        int64_t cents = 0;
        for (simdjson::dom::element o : item["value"]["orders"].get_array())
          if (std::string_view(o["status"]) == "confirmed")
            cents += std::llround(double(o["total"]) * 100);
        auto count = want.find(R"("orders":)");
        REQUIRE(count != std::string::npos);
        want.insert(count, fmt::format(R"("total_spent":{}.{:02},)", cents / 100, cents % 100));
      }
      CHECK(*got.items[i].value == want);
      ++i;
    }
  }
}
