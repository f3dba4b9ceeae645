// Event schema versions (SPEC §12): order.item_added version 2 adds a sku;
// version-1 events are upcast wherever the log is read.
#include "builtin/builtin.h"
#include "codec/json_writer.h"
#include "domain/event_json.h"
#include "domain/order.h"
#include "harness.h"
#include "log/event_log.h"
#include "log/write_batch.h"
#include "temp_dir.h"

#include <catch2/catch.hpp>

#include <random>

using namespace sluice;
using namespace sluice::domain;
using sluice::domain::testing::cmd;

namespace {

const registry& types() { return builtin::model().types(); }

std::string v1_data(std::string product, int64_t qty, int64_t cents) {
  std::string out;
  codec::encode_binary(order::item_added_v1{std::move(product), qty, codec::money{cents}}, out);
  return out;
}

std::string event_json(const log::record& r) {
  std::string out;
  codec::json_writer w(out);
  write_event_json(types(), r, w);
  return out;
}

} // namespace

TEST_CASE("the default sku uppercases ASCII letters and turns each run of spaces into one dash", "[schema]") {
  CHECK(order::default_sku("usb cable") == "USB-CABLE");
  CHECK(order::default_sku("a - b") == "A---B");
  CHECK(order::default_sku("  lead  and trail ") == "-LEAD-AND-TRAIL-");
  CHECK(order::default_sku("Café crème") == "CAFé-CRèME"); // only ASCII letters change
  CHECK(order::default_sku("tab\there") == "TAB\tHERE");   // only U+0020 is a space
  // Cut to 64 bytes, never inside a character: 63 ASCII bytes then a
  // two-byte "é" would end at 65, so the é goes.
  std::string long_name(63, 'x');
  long_name += "é tail";
  CHECK(order::default_sku(long_name) == std::string(63, 'X'));
  CHECK(order::default_sku(std::string(200, 'a')) == std::string(64, 'A'));
}

TEST_CASE("order.add_item takes an optional sku of 1 to 64 bytes, never null", "[schema]") {
  sluice::domain::testing::aggregate_harness h(order::type());
  REQUIRE(h.run(cmd("order.create", R"({"customer_id":"c"})")) == "ok");
  CHECK(h.run(cmd("order.add_item", R"({"product":"usb cable","qty":1,"price":1,"sku":null})")) == "invalid_command");
  CHECK(h.last_message().find("payload.sku") != std::string::npos);
  CHECK(h.run(cmd("order.add_item", R"({"product":"usb cable","qty":1,"price":1,"sku":""})")) == "invalid_command");
  CHECK(h.run(cmd("order.add_item", R"({"product":"usb cable","qty":1,"price":1,"sku":5})")) == "invalid_command");
  CHECK(h.run(cmd("order.add_item", R"({"product":"p","qty":1,"price":1,"sku":")" + std::string(65, 's') + "\"}")) ==
        "invalid_command");
  REQUIRE(h.run(cmd("order.add_item", R"({"product":"usb cable","qty":1,"price":1})")) == "ok");
  CHECK(h.events().front().schema == 2);
  CHECK(order::state_of(h.state()).lines.at(0).sku == "USB-CABLE");
  // A line's sku is that of its latest add.
  REQUIRE(h.run(cmd("order.add_item", R"({"product":"usb cable","qty":1,"price":1,"sku":"CBL-2"})")) == "ok");
  CHECK(order::state_of(h.state()).lines.at(0).sku == "CBL-2");
  REQUIRE(h.run(cmd("order.add_item",
                    R"({"product":"mouse","qty":1,"price":1,"sku":")" + std::string(64, 'M') + "\"}")) == "ok");
  CHECK(order::state_of(h.state()).lines.at(1).sku == std::string(64, 'M'));
}

TEST_CASE("a version-1 item_added reads as version 2 with the default sku", "[schema]") {
  log::record r;
  r.position = 7;
  r.version = 2;
  r.type = "order.item_added";
  r.aggregate_id = "ORD-1";
  auto data = v1_data("usb cable", 2, 499);
  r.data = data;
  r.schema = 1;
  std::string scratch;
  REQUIRE(types().upcast(r, scratch));
  CHECK(r.schema == 2);
  auto j = event_json(r);
  CHECK(j.find(R"("type":"order.item_added","schema":2)") != std::string::npos);
  CHECK(j.find(R"("data":{"product":"usb cable","qty":2,"price":4.99,"sku":"USB-CABLE"})") != std::string::npos);

  // Current events, events of types without versions, unknown versions and
  // undecodable data are left as read.
  CHECK_FALSE(types().upcast(r, scratch));
  log::record created = r;
  created.type = "order.created";
  created.schema = 1;
  CHECK_FALSE(types().upcast(created, scratch));
  log::record future = r;
  future.schema = 3;
  CHECK_FALSE(types().upcast(future, scratch));
  log::record garbage = r;
  garbage.schema = 1;
  garbage.data = "\xff\xff";
  CHECK_FALSE(types().upcast(garbage, scratch));
  CHECK(garbage.schema == 1);
}

TEST_CASE("upcasting then encoding is stable: the upcast bytes decode and re-encode to themselves", "[schema]") {
  std::mt19937 rng(12345);
  const std::string alphabet = "ab Z-  \xc3\xa9x";
  auto* item_added = types().find_event("order.item_added");
  REQUIRE(item_added);
  for (int i = 0; i < 2000; ++i) {
    std::string product;
    for (size_t n = rng() % 90; n > 0; --n)
      product += alphabet[rng() % alphabet.size()];
    auto v1 = v1_data(product, 1 + static_cast<int64_t>(rng() % 1000), static_cast<int64_t>(rng() % 100000));
    std::string up;
    REQUIRE(item_added->type->upcast(item_added->index, 1, v1, up));
    order::item_added e;
    REQUIRE(codec::decode_binary(up, e));
    CHECK(e.product == product);
    CHECK(e.sku == order::default_sku(product));
    CHECK(e.sku.size() <= 64);
    std::string again;
    codec::encode_binary(e, again);
    CHECK(again == up);
    // Upcasting from the current version is the identity.
    std::string same;
    REQUIRE(item_added->type->upcast(item_added->index, 2, up, same));
    CHECK(same == up);
  }
}

TEST_CASE("a log of mixed version-1 and version-2 events reads as version 2 everywhere", "[schema]") {
  sluice::testing::temp_dir dir;
  log::options o;
  o.dir = dir.path() / "log";
  o.mode = log::durability::none;
  auto v2 = [] {
    std::string d;
    codec::encode_binary(order::item_added{"usb cable", 1, codec::money{100}, "OWN-SKU"}, d);
    return d;
  }();
  auto v1 = v1_data("usb cable", 2, 200);
  std::string created;
  codec::encode_binary(order::created{"c"}, created);
  {
    auto log = log::event_log::open(o);
    REQUIRE(log);
    log::write_batch b;
    REQUIRE(b.add({0, 1, 0, "order.created", "O", {}, created, 1}));
    REQUIRE(b.add({0, 2, 0, "order.item_added", "O", {}, v1, 1}));
    REQUIRE(b.add({0, 3, 0, "order.item_added", "O", {}, v2, 2}));
    auto appended = (*log)->append_and_wait(std::move(b));
    REQUIRE(appended);
  }
  // Without the upcaster the log shows what it stores …
  std::vector<uint16_t> stored;
  {
    auto log = log::event_log::open(o);
    REQUIRE(log);
    REQUIRE((*log)->read(1, SIZE_MAX, [&](const log::record& r) {
      stored.push_back(r.schema);
      return true;
    }));
  }
  CHECK(stored == std::vector<uint16_t>{1, 1, 2});
  // … with it every reader sees current events.
  o.upcaster = &types();
  auto log = log::event_log::open(o);
  REQUIRE(log);
  std::vector<std::string> seen;
  auto state = order::type().make_state();
  REQUIRE((*log)->read(1, SIZE_MAX, [&](const log::record& r) {
    CHECK(r.schema == (r.type == "order.item_added" ? 2 : 1));
    REQUIRE(order::type().evolve(*state, r.type, r.data));
    seen.push_back(event_json(r));
    return true;
  }));
  REQUIRE(seen.size() == 3);
  CHECK(seen[1].find(R"("sku":"USB-CABLE")") != std::string::npos);
  CHECK(seen[2].find(R"("sku":"OWN-SKU")") != std::string::npos);
  auto& s = order::state_of(*state);
  REQUIRE(s.lines.size() == 1);
  CHECK(s.lines[0].qty == 3);
  CHECK(s.lines[0].sku == "OWN-SKU");
}
