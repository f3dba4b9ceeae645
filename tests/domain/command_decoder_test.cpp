#include "builtin/builtin.h"
#include "domain/command_decoder.h"

#include "domain/order.h"

#include <catch2/catch.hpp>

#include <string>

using namespace sluice::domain;

namespace {

std::string code_of(std::string_view json) {
  command_decoder d{sluice::builtin::model().types()};
  auto r = d.decode(json);
  return r ? "ok" : std::string(to_string(r.error().code));
}

std::string message_of(std::string_view json) {
  command_decoder d{sluice::builtin::model().types()};
  auto r = d.decode(json);
  return r ? "" : r.error().message;
}

std::string with(std::string_view members) {
  // Appended piecewise: GCC 12 at -O3 warns (-Wrestrict) on "{" + string&&.
  std::string json = "{";
  json += members;
  json += R"(,"payload":{"customer_id":"C"}})";
  return json;
}

} // namespace

TEST_CASE("a full envelope decodes into a command", "[domain][decoder]") {
  command_decoder d{sluice::builtin::model().types()};
  auto r = d.decode(R"({"command_id":"c-7f3a","type":"order.add_item","aggregate_id":"ORD-1",
    "expected_version":3,"correlation_id":"checkout-17","payload":{"product":"Laptop","qty":1,"price":999.99}})");
  REQUIRE(r);
  CHECK(r->type == &order::type());
  CHECK(order::type().command_names()[r->kind] == "order.add_item");
  CHECK(r->aggregate_id == "ORD-1");
  CHECK(r->command_id == "c-7f3a");
  CHECK(r->expected_version == 3);
  order::add_item p;
  REQUIRE(sluice::codec::decode_binary(r->payload, p));
  CHECK(p.product == "Laptop");
  CHECK(p.qty == 1);
  CHECK(p.price.cents == 99999);
}

TEST_CASE("an unknown field, in the envelope or the payload, is refused by name", "[domain][decoder]") {
  // SPEC §2: a misspelt optional field would otherwise switch its check off.
  CHECK(code_of(with(R"("type":"order.create","aggregate_id":"A","expected_versoin":0)")) == "invalid_command");
  CHECK(message_of(with(R"("type":"order.create","aggregate_id":"A","expected_versoin":0)")) ==
        "unknown field 'expected_versoin' (did you mean 'expected_version'?); a command has type, aggregate_id, "
        "command_id, expected_version, correlation_id, payload");
  CHECK(message_of(with(R"("type":"order.create","aggregate_id":"A","commandId":"c")"))
            .starts_with("unknown field 'commandId' (did you mean 'command_id'?)"));
  CHECK(message_of(with(R"("type":"order.create","aggregate_id":"A","extra":[1,{}])"))
            .starts_with("unknown field 'extra'; a command has"));
  CHECK(message_of(R"({"type":"order.create","aggregate_id":"A","payload":{"customer_id":"C","extra":1}})") ==
        "unknown field 'payload.extra'; this payload has customer_id");
  CHECK(message_of(R"({"type":"order.create","aggregate_id":"A","payload":{"customerid":"C"}})") ==
        "unknown field 'payload.customerid' (did you mean 'customer_id'?); this payload has customer_id");
  CHECK(message_of(R"({"type":"order.confirm","aggregate_id":"A","payload":{"now":true}})") ==
        "unknown field 'payload.now'; this payload has no fields");
  CHECK(code_of(R"({"type":"order.confirm","aggregate_id":"A","payload":{}})") == "ok");
  // correlation_id is part of the envelope (SPEC §17), bounded like command_id.
  CHECK(code_of(with(R"("type":"order.create","aggregate_id":"A","correlation_id":"x")")) == "ok");
  CHECK(message_of(with(R"("type":"order.create","aggregate_id":"A","correlation_id":"")")) ==
        "correlation_id must be 1 to 128 bytes long");
  CHECK(message_of(with(R"("type":"order.create","aggregate_id":"A","correlation_id":5)")) ==
        "correlation_id must be a string");
}

TEST_CASE("an unknown command type lists the known ones, the closest first", "[domain][decoder]") {
  auto m = message_of(with(R"("type":"order.crate","aggregate_id":"A")"));
  CHECK(m.starts_with("unknown command type 'order.crate' (did you mean 'order.create'?); known types: "));
  for (auto t : {"order.create", "order.add_item", "account.open", "transfer.request"})
    CHECK(m.find(t) != std::string::npos);
}

TEST_CASE("payload may come before type, and optional fields may be null", "[domain][decoder]") {
  command_decoder d{sluice::builtin::model().types()};
  auto r = d.decode(R"({"payload":{"customer_id":"C"},"command_id":null,"expected_version":null,
    "aggregate_id":"A","type":"order.create"})");
  REQUIRE(r);
  CHECK(r->command_id.empty());
  CHECK_FALSE(r->expected_version);
}

TEST_CASE("malformed input is a bad_request", "[domain][decoder]") {
  CHECK(code_of("") == "bad_request");
  CHECK(code_of("{") == "bad_request");
  CHECK(code_of(R"({"type":"order.create",})") == "bad_request");
  CHECK(code_of("[1,2]") == "bad_request");
  CHECK(code_of("\"a string\"") == "bad_request");
  CHECK(code_of("null") == "bad_request");
  CHECK(code_of(R"({"type":"order.create"} trailing)") == "bad_request");
  CHECK(code_of(std::string_view("{\"type\":\"order.create\"}\0", 24)) == "bad_request");
  CHECK(code_of(R"({"a":tru})") == "bad_request");
}

TEST_CASE("a number no double or integer holds is invalid_command naming its field", "[domain][decoder]") {
  CHECK(code_of(R"({"n":1e999})") == "invalid_command");
  CHECK(message_of(R"({"n":1e999})") == "n is a number out of range");
  auto huge = with(R"("type":"order.add_item","aggregate_id":"O","payload":{"product":"p","qty":1e400,"price":1})");
  CHECK(code_of(huge) == "invalid_command");
  CHECK(message_of(huge) == "payload.qty is a number out of range");
  auto big_int =
      with(R"("type":"order.confirm","aggregate_id":"O","expected_version":18446744073709551616,"payload":{})");
  CHECK(code_of(big_int) == "invalid_command");
  CHECK(message_of(big_int) == "expected_version is a number out of range");
  CHECK(message_of(R"({"a":[1,{"b":-1e400}]})") == "a.1.b is a number out of range");
  // Malformed after the number: still malformed JSON.
  CHECK(code_of(R"({"n":1e999,})") == "bad_request");
}

TEST_CASE("invalid UTF-8 is refused with a message saying so", "[domain][decoder]") {
  std::string bad = with(R"("type":"order.create","aggregate_id":"A)"
                         "\xff\xfe"
                         R"(")");
  CHECK(code_of(bad) == "bad_request");
  CHECK(message_of(bad) == "body is not valid UTF-8");
  CHECK(code_of(with(R"("type":"order.create","aggregate_id":"\xc3\x28")")) == "bad_request");
}

TEST_CASE("10,000-deep nesting is refused, not recursed into", "[domain][decoder]") {
  std::string deep = R"({"type":"order.create","aggregate_id":"A","payload":{"x":)";
  deep += std::string(10000, '[') + std::string(10000, ']') + "}}";
  CHECK(code_of(deep) == "bad_request");
  CHECK(message_of(deep) == "JSON is nested too deeply");
}

TEST_CASE("each envelope field is checked and named in the error", "[domain][decoder]") {
  CHECK(code_of(R"({"aggregate_id":"A","payload":{}})") == "invalid_command");
  CHECK(message_of(R"({"aggregate_id":"A","payload":{}})") == "type is required");
  CHECK(code_of(with(R"("type":7,"aggregate_id":"A")")) == "invalid_command");
  CHECK(code_of(with(R"("type":"order.explode","aggregate_id":"A")")) == "unknown_command");
  CHECK(message_of(with(R"("type":"order.explode","aggregate_id":"A")"))
            .starts_with("unknown command type 'order.explode'; known types: "));

  CHECK(message_of(with(R"("type":"order.create")")) == "aggregate_id is required");
  CHECK(code_of(with(R"("type":"order.create","aggregate_id":"")")) == "invalid_command");
  CHECK(code_of(with(R"("type":"order.create","aggregate_id":1)")) == "invalid_command");
  CHECK(code_of(with(R"("type":"order.create","aggregate_id":")" + std::string(256, 'x') + "\"")) == "ok");
  CHECK(code_of(with(R"("type":"order.create","aggregate_id":")" + std::string(257, 'x') + "\"")) == "invalid_command");
  CHECK(message_of(with(R"("type":"order.create","aggregate_id":"a\nb")")) ==
        "aggregate_id must not contain control characters");
  CHECK(code_of(with(R"("type":"order.create","aggregate_id":"a\u0000b")")) == "invalid_command");
  CHECK(code_of(with(R"("type":"order.create","aggregate_id":"a\u0085b")")) == "invalid_command");
  CHECK(code_of(with(R"("type":"order.create","aggregate_id":"Bestellung-ü-東")")) == "ok");

  CHECK(code_of(with(R"("type":"order.create","aggregate_id":"A","command_id":"")")) == "invalid_command");
  CHECK(code_of(with(R"("type":"order.create","aggregate_id":"A","command_id":7)")) == "invalid_command");
  CHECK(code_of(with(R"("type":"order.create","aggregate_id":"A","command_id":")" + std::string(128, 'c') + "\"")) ==
        "ok");
  CHECK(code_of(with(R"("type":"order.create","aggregate_id":"A","command_id":")" + std::string(129, 'c') + "\"")) ==
        "invalid_command");

  CHECK(code_of(with(R"("type":"order.create","aggregate_id":"A","expected_version":0)")) == "ok");
  CHECK(code_of(with(R"("type":"order.create","aggregate_id":"A","expected_version":-1)")) == "invalid_command");
  CHECK(code_of(with(R"("type":"order.create","aggregate_id":"A","expected_version":1.5)")) == "invalid_command");
  CHECK(code_of(with(R"("type":"order.create","aggregate_id":"A","expected_version":"3")")) == "invalid_command");
  CHECK(code_of(with(R"("type":"order.create","aggregate_id":"A","expected_version":18446744073709551615)")) ==
        "invalid_command");

  CHECK(message_of(R"({"type":"order.create","aggregate_id":"A"})") == "payload is required");
  CHECK(code_of(R"({"type":"order.create","aggregate_id":"A","payload":[]})") == "invalid_command");
  CHECK(code_of(R"({"type":"order.create","aggregate_id":"A","payload":null})") == "invalid_command");
}

TEST_CASE("a repeated envelope field is refused rather than guessed", "[domain][decoder]") {
  CHECK(code_of(with(R"("type":"order.create","type":"order.confirm","aggregate_id":"A")")) == "invalid_command");
  CHECK(message_of(with(R"("type":"order.create","aggregate_id":"A","aggregate_id":"B")")) ==
        "field 'aggregate_id' appears more than once");
}

TEST_CASE("payload errors name the field and the expected form", "[domain][decoder]") {
  CHECK(message_of(R"({"type":"order.add_item","aggregate_id":"A","payload":{"product":"P","qty":0,"price":1}})") ==
        "payload.qty must be an integer from 1 to 1000000");
  CHECK(message_of(R"({"type":"order.add_item","aggregate_id":"A","payload":{"product":"P","qty":1,"price":1.234}})")
            .starts_with("payload.price must be an amount with at most 2 fraction digits"));
  CHECK(message_of(R"({"type":"account.deposit","aggregate_id":"A","payload":{"amount":0}})") ==
        "payload.amount must be from 0.01 to 9999999999999.99");
}

TEST_CASE("the zero-copy entry decodes padded input in place", "[domain][decoder]") {
  std::string buf = R"({"type":"order.create","aggregate_id":"A","payload":{"customer_id":"C"}})";
  size_t n = buf.size();
  buf.resize(n + k_json_padding, '\0');
  command_decoder d{sluice::builtin::model().types()};
  auto r = d.decode(buf.data(), n, buf.size());
  REQUIRE(r);
  CHECK(r->aggregate_id == "A");
  // Too little capacity falls back to a copy rather than reading past the end.
  CHECK(d.decode(buf.data(), n, n).has_value());
}
