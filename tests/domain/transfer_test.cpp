// The transfer aggregate and the account's side of transfers (SPEC §13).
#include "builtin/builtin.h"
#include "codec/json_writer.h"
#include "domain/account.h"
#include "domain/event_json.h"
#include "domain/transfer.h"
#include "harness.h"
#include "log/record.h"

#include <catch2/catch.hpp>

using namespace sluice;
using namespace sluice::domain;
using namespace sluice::domain::testing;

namespace {

const std::string request_a_b = cmd("transfer.request", R"({"from":"A","to":"B","amount":12.50})");

std::vector<std::string_view> event_types(const aggregate_harness& h) {
  std::vector<std::string_view> out;
  for (auto& e : h.events())
    out.push_back(e.type);
  return out;
}

} // namespace

TEST_CASE("transfer.request takes two different accounts and an amount", "[domain][transfer]") {
  run_table(
      transfer::type(),
      {
          {"request a new transfer", {}, request_a_b, "ok"},
          {"request an existing transfer", {request_a_b}, request_a_b, "rejected"},
          {"from equals to", {}, cmd("transfer.request", R"({"from":"A","to":"A","amount":1})"), "invalid_command"},
          {"no from", {}, cmd("transfer.request", R"({"to":"A","amount":1})"), "invalid_command"},
          {"empty to", {}, cmd("transfer.request", R"({"from":"A","to":"","amount":1})"), "invalid_command"},
          {"zero amount", {}, cmd("transfer.request", R"({"from":"A","to":"B","amount":0})"), "invalid_command"},
          {"amount as a string",
           {},
           cmd("transfer.request", R"({"from":"A","to":"B","amount":"1"})"),
           "invalid_command"},
      });
  aggregate_harness h(transfer::type());
  CHECK(h.run(cmd("transfer.request", R"({"from":"A","to":"A","amount":1})")) == "invalid_command");
  CHECK(h.last_message() == "payload.to must differ from payload.from");
}

TEST_CASE("the steps of a transfer are sent only by its process", "[domain][transfer]") {
  aggregate_harness h(transfer::type());
  REQUIRE(h.run(request_a_b) == "ok");
  for (auto* json : {R"({"type":"transfer.record_debit","aggregate_id":"X-1","payload":{}})",
                     R"({"type":"transfer.record_credit","aggregate_id":"X-1","payload":{}})",
                     R"({"type":"transfer.fail","aggregate_id":"X-1","payload":{"reason":"insufficient_funds"}})",
                     R"({"type":"account.refund","aggregate_id":"X-1","payload":{"amount":1,"transfer_id":"T"}})",
                     R"({"type":"account.settle","aggregate_id":"X-1","payload":{"transfer_id":"T"}})"}) {
    INFO(json);
    CHECK(h.run(json) == "invalid_command");
    CHECK(h.last_message().find("is sent only by a process manager") != std::string::npos);
  }
  aggregate_harness a(account::type());
  REQUIRE(a.run(cmd("account.open", R"({"owner":"Ada"})")) == "ok");
  CHECK(a.run(cmd("account.deposit", R"({"amount":1,"transfer_id":"T"})")) == "invalid_command");
  CHECK(a.last_message() == "payload.transfer_id is set only by the transfers process");
  CHECK(a.run(cmd("account.withdraw", R"({"amount":1,"transfer_id":"T"})")) == "invalid_command");
}

TEST_CASE("a transfer records each step once and in order", "[domain][transfer]") {
  SECTION("success: debited, then credited and completed") {
    aggregate_harness h(transfer::type());
    REQUIRE(h.run(request_a_b) == "ok");
    CHECK(h.send(transfer::record_credit{}) == "rejected"); // not debited yet
    CHECK(h.last_message() == "transfer is requested, not debited");
    REQUIRE(h.send(transfer::record_debit{}) == "ok");
    CHECK(event_types(h) == std::vector<std::string_view>{"transfer.debited"});
    CHECK(h.send(transfer::record_debit{}) == "rejected"); // a step on record is never recorded again
    CHECK(h.send(transfer::fail{std::string(transfer::k_insufficient_funds)}) == "rejected");
    REQUIRE(h.send(transfer::record_credit{}) == "ok");
    CHECK(event_types(h) == std::vector<std::string_view>{"transfer.credited", "transfer.completed"});
    CHECK(h.send(transfer::record_credit{}) == "rejected");
    CHECK(h.send(transfer::record_credit_rejected{"destination_unavailable"}) == "rejected");
  }
  SECTION("refused debit: failed with nothing moved") {
    aggregate_harness h(transfer::type());
    REQUIRE(h.run(request_a_b) == "ok");
    REQUIRE(h.send(transfer::fail{std::string(transfer::k_insufficient_funds)}) == "ok");
    CHECK(event_types(h) == std::vector<std::string_view>{"transfer.failed"});
    CHECK(h.send(transfer::record_debit{}) == "rejected");
  }
  SECTION("refused credit: credit_rejected, then refunded and failed with its reason") {
    aggregate_harness h(transfer::type());
    REQUIRE(h.run(request_a_b) == "ok");
    REQUIRE(h.send(transfer::record_debit{}) == "ok");
    CHECK(h.send(transfer::record_refund{}) == "rejected"); // no refund before the credit is refused
    REQUIRE(h.send(transfer::record_credit_rejected{std::string(transfer::k_destination_unavailable)}) == "ok");
    CHECK(h.send(transfer::record_credit{}) == "rejected");
    REQUIRE(h.send(transfer::record_refund{}) == "ok");
    CHECK(event_types(h) == std::vector<std::string_view>{"transfer.refunded", "transfer.failed"});
    transfer::failed f;
    REQUIRE(codec::decode_binary(h.events()[1].data, f));
    CHECK(f.reason == transfer::k_destination_unavailable);
    CHECK(h.send(transfer::record_refund{}) == "rejected");
  }
  SECTION("no step on a transfer never requested") {
    aggregate_harness h(transfer::type());
    CHECK(h.send(transfer::record_debit{}) == "rejected");
    CHECK(h.last_message() == "transfer is none, not requested");
  }
}

TEST_CASE("an account owes each outgoing transfer until it settles or is refunded", "[domain][account][transfer]") {
  aggregate_harness h(account::type());
  REQUIRE(h.run(cmd("account.open", R"({"owner":"Ada"})")) == "ok");
  REQUIRE(h.run(cmd("account.deposit", R"({"amount":100})")) == "ok");
  auto& s = account::state_of(h.state());

  REQUIRE(h.send(account::withdraw{codec::money{3000}, "T1"}) == "ok");
  account::withdrawn w;
  REQUIRE(codec::decode_binary(h.events()[0].data, w));
  CHECK(w.transfer_id == "T1");
  CHECK(h.events()[0].schema == 2);
  CHECK(s.balance_cents == 7000);
  // The debit of a transfer is taken once, whatever the idempotency window holds.
  CHECK(h.send(account::withdraw{codec::money{3000}, "T1"}) == "rejected");
  CHECK(h.last_message() == "already done for transfer T1");
  CHECK(s.balance_cents == 7000);

  // Insufficient funds are named so the process can tell them apart.
  CHECK(h.send(account::withdraw{codec::money{7001}, "T2"}) == "rejected");
  CHECK(h.last_message().rfind(account::k_insufficient_funds, 0) == 0);

  REQUIRE(h.run(cmd("account.withdraw", R"({"amount":70})")) == "ok");
  CHECK(h.run(cmd("account.close", "{}")) == "rejected"); // T1 may still come back
  CHECK(h.last_message() == "1 outgoing transfer is not finished (the first: T1)");

  SECTION("the credit arrived: settle, then close") {
    CHECK(h.send(account::refund{codec::money{3000}, "T9"}) == "rejected"); // owed nothing for T9
    REQUIRE(h.send(account::settle{"T1"}) == "ok");
    CHECK(event_types(h) == std::vector<std::string_view>{"account.transfer_settled"});
    CHECK(h.send(account::settle{"T1"}) == "rejected");
    CHECK(h.send(account::refund{codec::money{3000}, "T1"}) == "rejected");
    CHECK(s.balance_cents == 0);
    CHECK(h.run(cmd("account.close", "{}")) == "ok");
  }
  SECTION("the credit was refused: the refund comes back once, uncapped") {
    REQUIRE(h.send(account::refund{codec::money{3000}, "T1"}) == "ok");
    account::deposited d;
    REQUIRE(codec::decode_binary(h.events()[0].data, d));
    CHECK(d.transfer_id == "T1");
    CHECK(d.amount.cents == 3000);
    CHECK(s.balance_cents == 3000);
    CHECK(h.send(account::refund{codec::money{3000}, "T1"}) == "rejected");
    CHECK(h.send(account::settle{"T1"}) == "rejected");
    CHECK(s.balance_cents == 3000);
    CHECK(s.transfers.empty());
  }
}

TEST_CASE("version-1 account events read as version 2 without a transfer_id", "[domain][account][schema]") {
  auto& types = builtin::model().types();
  for (auto* type : {"account.deposited", "account.withdrawn"}) {
    INFO(type);
    std::string data;
    codec::encode_binary(account::deposited_v1{codec::money{1234}}, data); // withdrawn_v1 is the same shape
    log::record r;
    r.position = 3;
    r.version = 2;
    r.type = type;
    r.aggregate_id = "A";
    r.data = data;
    r.schema = 1;
    std::string scratch;
    REQUIRE(types.upcast(r, scratch));
    CHECK(r.schema == 2);
    std::string json;
    codec::json_writer w(json);
    write_event_json(types, r, w);
    CHECK(json.find(R"("schema":2)") != std::string::npos);
    CHECK(json.find(R"("data":{"amount":12.34})") != std::string::npos);

    auto state = account::type().make_state();
    std::string opened;
    codec::encode_binary(account::opened{"Ada"}, opened);
    REQUIRE(account::type().evolve(*state, "account.opened", opened));
    REQUIRE(account::type().evolve(*state, r.type, r.data));
    auto& s = account::state_of(*state);
    CHECK(s.balance_cents == (r.type == "account.deposited" ? 1234 : -1234));
    CHECK(s.transfers.empty());
  }
}
