// The stock decider tested as plain functions: no actors, no log, no server.
#define CATCH_CONFIG_MAIN
#include "domain/aggregate_type_of.h"
#include "stock.h"

#include <catch2/catch.hpp>
#include <simdjson.h>

#include <algorithm>
#include <cstring>

using namespace inventory::stock;
using sluice::domain::event_list;
using sluice::domain::event_sink;

namespace {

// Decides `c` against `s`; on acceptance evolves `s` by the event, as the engine does.
template <class Command, class Event>
bool run(state& s, const Command& c, Event& emitted) {
  event_list out;
  event_sink sink(out);
  if (!decide(s, c, sink))
    return false;
  REQUIRE(out.size() == 1);
  REQUIRE(out[0].type == Event::name);
  REQUIRE(sluice::codec::decode_binary(out[0].data, emitted));
  evolve(s, emitted);
  return true;
}

} // namespace

TEST_CASE("stock is received, reserved, released and shipped, never below zero") {
  state s;
  received rcv;
  CHECK_FALSE(run(s, receive{5}, rcv)); // not registered
  registered reg;
  REQUIRE(run(s, register_item{"WH1", 3}, reg));
  CHECK_FALSE(run(s, register_item{"WH1", 3}, reg));
  REQUIRE(run(s, receive{10}, rcv));
  CHECK(s.on_hand == 10);

  reserved rsv;
  REQUIRE(run(s, reserve{8}, rsv));
  CHECK_FALSE(run(s, reserve{3}, rsv)); // 2 available
  CHECK(s.available() == 2);

  released rel;
  CHECK_FALSE(run(s, release{9}, rel));
  REQUIRE(run(s, release{2}, rel));
  CHECK(s.reserved == 6);

  shipped shp;
  CHECK_FALSE(run(s, ship{7}, shp)); // only what is reserved ships
  REQUIRE(run(s, ship{6}, shp));
  CHECK(s.on_hand == 4);
  CHECK(s.reserved == 0);
  CHECK(s.available() == 4);
}

TEST_CASE("payload bounds are part of the type: a zero or negative quantity never reaches decide") {
  auto& t = type();
  CHECK(t.name() == "stock");
  CHECK(t.command_names().size() == 5);
  CHECK(t.event_names()[0] == "stock.registered");
  auto kind = static_cast<uint16_t>(std::ranges::find(t.command_names(), std::string_view("stock.receive")) -
                                    t.command_names().begin());
  REQUIRE(kind < t.command_names().size());
  // The payload as the server decodes it from a request's JSON.
  auto decode = [&](const char* json, std::string& out) {
    simdjson::dom::parser parser;
    simdjson::dom::element doc = parser.parse(json, std::strlen(json));
    return t.decode_payload(kind, doc.get_object(), out);
  };
  for (const char* bad : {R"({"qty":0})", R"({"qty":-3})", R"({})", R"({"qty":"5"})"}) {
    std::string out;
    auto r = decode(bad, out);
    INFO(bad);
    REQUIRE_FALSE(r);
    CHECK_THAT(r.error(), Catch::Contains("qty"));
  }
  std::string out;
  REQUIRE(decode(R"({"qty":7})", out));
  receive back;
  REQUIRE(sluice::codec::decode_binary(out, back));
  CHECK(back.qty == 7);
}
