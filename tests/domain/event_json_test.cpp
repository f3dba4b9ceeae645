#include "builtin/builtin.h"
#include "domain/event_json.h"

#include "codec/fields.h"
#include "domain/order.h"

#include <catch2/catch.hpp>

using namespace sluice;

TEST_CASE("events render as the Event JSON of the contract", "[domain][json]") {
  std::string data;
  codec::encode_binary(domain::order::item_added{"Laptop", 1, codec::money{99999}, "LAP-1"}, data);
  log::record r{1234, 4, 1'795'600'800'123'000, "order.item_added", "ORD-1", "c-7f3a", data, 2};
  std::string out;
  codec::json_writer w(out);
  domain::write_event_json(builtin::model().types(), r, w);
  CHECK(out == R"({"position":1234,"aggregate_type":"order","aggregate_id":"ORD-1","version":4,)"
               R"("type":"order.item_added","schema":2,"time":"2026-11-25T10:00:00.123Z","command_id":"c-7f3a",)"
               R"("data":{"product":"Laptop","qty":1,"price":999.99,"sku":"LAP-1"}})");
}

TEST_CASE("an event without command id or of an unknown type still renders", "[domain][json]") {
  log::record r{1, 1, 0, "invoice.created", "I-1", "", "\x01"};
  std::string out;
  codec::json_writer w(out);
  domain::write_event_json(builtin::model().types(), r, w);
  CHECK(out ==
        R"({"position":1,"aggregate_type":"invoice","aggregate_id":"I-1","version":1,)"
        R"("type":"invoice.created","schema":1,"time":"1970-01-01T00:00:00.000Z","command_id":null,"data":null})");
}
