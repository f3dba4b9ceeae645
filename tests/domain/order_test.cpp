#include "domain/order.h"

#include "harness.h"

using namespace sluice::domain;
using namespace sluice::domain::testing;

namespace {
const std::string create = cmd("order.create", R"({"customer_id":"C-1"})");
const std::string add_a = cmd("order.add_item", R"({"product":"A","qty":2,"price":9.99})");
const std::string confirm = cmd("order.confirm", "{}");
const std::string cancel = cmd("order.cancel", "{}");

std::string add(std::string_view payload) { return cmd("order.add_item", payload); }
} // namespace

TEST_CASE("order commands follow every rule and error code of the contract", "[domain][order]") {
  run_table(order::type(), {
      {"create a new order", {}, create, "ok"},
      {"create an existing order", {create}, create, "rejected"},
      {"create without customer_id", {}, cmd("order.create", "{}"), "invalid_command"},
      {"create with a numeric customer_id", {}, cmd("order.create", R"({"customer_id":5})"), "invalid_command"},
      {"create with an empty customer_id", {}, cmd("order.create", R"({"customer_id":""})"), "invalid_command"},

      {"add to a missing order", {}, add_a, "rejected"},
      {"add to a pending order", {create}, add_a, "ok"},
      {"add at the largest qty", {create}, add(R"({"product":"A","qty":1000000,"price":0})"), "ok"},
      {"add with qty 0", {create}, add(R"({"product":"A","qty":0,"price":1})"), "invalid_command"},
      {"add with qty above 10^6", {create}, add(R"({"product":"A","qty":1000001,"price":1})"), "invalid_command"},
      {"add with fractional qty", {create}, add(R"({"product":"A","qty":1.5,"price":1})"), "invalid_command"},
      {"add with string qty", {create}, add(R"({"product":"A","qty":"1","price":1})"), "invalid_command"},
      {"add with negative price", {create}, add(R"({"product":"A","qty":1,"price":-0.01})"), "invalid_command"},
      {"add with three decimals", {create}, add(R"({"product":"A","qty":1,"price":1.001})"), "invalid_command"},
      {"add with string price", {create}, add(R"({"product":"A","qty":1,"price":"1"})"), "invalid_command"},
      {"add with huge price", {create}, add(R"({"product":"A","qty":1,"price":1e300})"), "invalid_command"},
      {"add without product", {create}, add(R"({"qty":1,"price":1})"), "invalid_command"},
      {"add to a confirmed order", {create, add_a, confirm}, add_a, "rejected"},
      {"add to a cancelled order", {create, cancel}, add_a, "rejected"},

      {"remove from a missing order", {}, cmd("order.remove_item", R"({"product":"A"})"), "rejected"},
      {"remove a present product", {create, add_a}, cmd("order.remove_item", R"({"product":"A"})"), "ok"},
      {"remove an absent product", {create, add_a}, cmd("order.remove_item", R"({"product":"B"})"), "rejected"},
      {"remove from a confirmed order", {create, add_a, confirm}, cmd("order.remove_item", R"({"product":"A"})"),
       "rejected"},
      {"remove without product", {create, add_a}, cmd("order.remove_item", "{}"), "invalid_command"},

      {"confirm a missing order", {}, confirm, "rejected"},
      {"confirm an order without items", {create}, confirm, "rejected"},
      {"confirm an order with items", {create, add_a}, confirm, "ok"},
      {"confirm twice", {create, add_a, confirm}, confirm, "rejected"},
      {"confirm a cancelled order", {create, add_a, cancel}, confirm, "rejected"},

      {"cancel a missing order", {}, cancel, "rejected"},
      {"cancel a pending order", {create}, cancel, "ok"},
      {"cancel a confirmed order", {create, add_a, confirm}, cancel, "ok"},
      {"cancel a cancelled order", {create, cancel}, cancel, "rejected"},
      {"cancel with a reason", {create}, cmd("order.cancel", R"({"reason":"changed mind"})"), "ok"},
      {"cancel with a numeric reason", {create}, cmd("order.cancel", R"({"reason":5})"), "invalid_command"},

      {"an unknown order command", {}, cmd("order.ship", "{}"), "unknown_command"},
      {"a command of an unknown type", {}, cmd("invoice.create", "{}"), "unknown_command"},
  });
}

TEST_CASE("adding a product again adds to its qty and the latest price wins", "[domain][order]") {
  aggregate_harness h(order::type());
  REQUIRE(h.run(create) == "ok");
  REQUIRE(h.run(add(R"({"product":"Laptop","qty":1,"price":999.99})")) == "ok");
  REQUIRE(h.run(add(R"({"product":"Mouse","qty":2,"price":29.99})")) == "ok");
  REQUIRE(h.run(add(R"({"product":"Laptop","qty":1,"price":900})")) == "ok");
  auto& s = order::state_of(h.state());
  CHECK(s.status == order::status::pending);
  CHECK(s.customer_id == "C-1");
  REQUIRE(s.lines.size() == 2);
  CHECK(s.lines[0].qty == 2);
  CHECK(s.lines[0].price_cents == 90000);
  CHECK(s.item_count == 4);
  CHECK(s.total_cents == 2 * 90000 + 2 * 2999);

  REQUIRE(h.run(cmd("order.remove_item", R"({"product":"Laptop"})")) == "ok");
  CHECK(s.item_count == 2);
  CHECK(s.total_cents == 2 * 2999);
}

TEST_CASE("an order holds at most 1000 lines, but existing lines still grow", "[domain][order]") {
  aggregate_harness h(order::type());
  REQUIRE(h.run(create) == "ok");
  for (int i = 0; i < 1000; ++i)
    REQUIRE(h.run(add(fmt::format(R"({{"product":"P{}","qty":1,"price":1}})", i))) == "ok");
  CHECK(h.run(add(R"({"product":"P1000","qty":1,"price":1})")) == "rejected");
  CHECK(h.run(add(R"({"product":"P7","qty":1,"price":1})")) == "ok");
  CHECK(order::state_of(h.state()).item_count == 1001);
}

TEST_CASE("an order total past the largest amount is rejected, not overflowed", "[domain][order]") {
  aggregate_harness h(order::type());
  REQUIRE(h.run(create) == "ok");
  CHECK(h.run(add(R"({"product":"A","qty":1000000,"price":9999999999999.99})")) == "rejected");
  REQUIRE(h.run(add(R"({"product":"A","qty":1,"price":9999999999999.99})")) == "ok");
  CHECK(h.run(add(R"({"product":"B","qty":1,"price":0.01})")) == "rejected");
}

TEST_CASE("confirmed and cancelled events carry the order's figures", "[domain][order]") {
  aggregate_harness h(order::type());
  REQUIRE(h.run(create) == "ok");
  REQUIRE(h.run(add_a) == "ok");
  REQUIRE(h.run(confirm) == "ok");
  order::confirmed c;
  REQUIRE(sluice::codec::decode_binary(h.events().at(0).data, c));
  CHECK(c.item_count == 2);
  CHECK(c.total.cents == 1998);
  REQUIRE(h.run(cmd("order.cancel", R"({"reason":"late"})")) == "ok");
  order::cancelled x;
  REQUIRE(sluice::codec::decode_binary(h.events().at(0).data, x));
  CHECK(x.was_confirmed);
  CHECK(x.total.cents == 1998);
  CHECK(x.reason == "late");
  CHECK(order::state_of(h.state()).status == order::status::cancelled);
}
