// Transfers between accounts (SPEC §13) through the real engine and HTTP
// server: each path a transfer can take, what the log and views show.
#include "client.h"
#include "server_fixture.h"

#include <catch2/catch.hpp>
#include <simdjson.h>

#include <map>
#include <thread>

using namespace sluice;
using namespace sluice::testing;
using namespace std::chrono_literals;

namespace {

std::string command(std::string_view type, std::string_view id, std::string_view payload) {
  return fmt::format(R"({{"type":"{}","aggregate_id":"{}","payload":{}}})", type, id, payload);
}

void open_with(http_client& c, std::string_view id, std::string_view amount) {
  REQUIRE(c.request("POST", "/v1/commands", command("account.open", id, R"({"owner":"o"})")).status == 200);
  if (amount != "0")
    REQUIRE(c.request("POST", "/v1/commands", command("account.deposit", id, fmt::format(R"({{"amount":{}}})", amount)))
                .status == 200);
}

http_response request_transfer(http_client& c, std::string_view id, std::string_view from, std::string_view to,
                               std::string_view amount) {
  return c.request(
      "POST", "/v1/commands",
      command("transfer.request", id, fmt::format(R"({{"from":"{}","to":"{}","amount":{}}})", from, to, amount)));
}

/// The transfer_status answer once the transfer has ended.
std::string ended(http_client& c, std::string_view id) {
  std::string body;
  for (int i = 0; i < 1000; ++i) {
    auto r = c.request("GET", fmt::format("/v1/views/transfer_status/{}", id));
    body = r.body;
    if (r.status == 200 && (body.find(R"("status":"completed")") != std::string::npos ||
                            body.find(R"("status":"failed")") != std::string::npos))
      return body;
    std::this_thread::sleep_for(10ms);
  }
  FAIL("transfer " << id << " did not end: " << body);
  return {};
}

std::string balance(server_fixture& f, http_client& c, std::string_view account) {
  // Each view follows the log on its own: read this one at the log's end.
  auto r = c.request("GET", fmt::format("/v1/views/account_balance/{}?min_position={}&timeout_ms=5000", account,
                                        f.engine->log().last_position()));
  REQUIRE(r.status == 200);
  // Money as written (two decimals), not as a double would print it.
  auto at = r.body.find(R"("balance":)");
  REQUIRE(at != std::string::npos);
  at += 10;
  return r.body.substr(at, r.body.find_first_of(",}", at) - at);
}

/// The events of the log whose data names `transfer_id`, as "aggregate type".
std::vector<std::string> caused_by(http_client& c, std::string_view transfer_id) {
  auto r = c.request("GET", "/v1/events?from=1&limit=100000");
  REQUIRE(r.status == 200);
  std::vector<std::string> out;
  simdjson::dom::parser p;
  for (auto& line : ndjson_lines(r.body)) {
    auto doc = p.parse(line);
    REQUIRE_FALSE(doc.error());
    std::string_view id = doc["aggregate_id"].get_string().value();
    std::string_view type = doc["type"].get_string().value();
    std::string_view tid;
    if (doc["data"]["transfer_id"].get(tid) != simdjson::SUCCESS)
      tid = {};
    if (id == transfer_id || tid == transfer_id)
      out.push_back(fmt::format("{} {}", id, type));
  }
  return out;
}

} // namespace

TEST_CASE("a transfer moves the money once and records every step", "[http][transfers]") {
  server_fixture f;
  http_client c(f.server->port());
  open_with(c, "A", "100");
  open_with(c, "B", "0");
  auto r = request_transfer(c, "T-1", "A", "B", "30.25");
  REQUIRE(r.status == 200);
  auto status = ended(c, "T-1");
  CHECK(status.find(
            R"("value":{"transfer_id":"T-1","from":"A","to":"B","amount":30.25,"status":"completed","reason":null})") !=
        std::string::npos);
  CHECK(balance(f, c, "A") == "69.75");
  CHECK(balance(f, c, "B") == "30.25");
  CHECK(caused_by(c, "T-1") == std::vector<std::string>{"T-1 transfer.requested", "A account.withdrawn",
                                                        "T-1 transfer.debited", "B account.deposited",
                                                        "A account.transfer_settled", "T-1 transfer.credited",
                                                        "T-1 transfer.completed"});
  // The account events carry the transfer's id; the process's command ids name the step.
  auto events = c.request("GET", "/v1/events?from=1&limit=100").body;
  CHECK(events.find(R"("command_id":"transfers/T-1/withdraw","data":{"amount":30.25,"transfer_id":"T-1"})") !=
        std::string::npos);
  CHECK(events.find(R"("command_id":"transfers/T-1/deposit","data":{"amount":30.25,"transfer_id":"T-1"})") !=
        std::string::npos);

  // The transfer id is taken: a second request is refused, nothing moves.
  auto again = request_transfer(c, "T-1", "A", "B", "1");
  CHECK(again.status == 422);
  CHECK(again.body.find("transfer already exists") != std::string::npos);

  // A is settled: it closes once its balance is gone.
  REQUIRE(c.request("POST", "/v1/commands", command("account.withdraw", "A", R"({"amount":69.75})")).status == 200);
  CHECK(c.request("POST", "/v1/commands", command("account.close", "A", "{}")).status == 200);

  auto metrics = c.request("GET", "/metrics").body;
  CHECK(metrics.find(R"(sluice_process_unfinished{process="transfers"} 0)") != std::string::npos);
  CHECK(metrics.find(R"(sluice_process_commands_total{process="transfers",result="accepted"} 5)") != std::string::npos);
  CHECK(metrics.find(R"(sluice_process_commands_total{process="transfers",result="rejected"} 0)") != std::string::npos);
}

TEST_CASE("insufficient funds: the transfer fails and nothing moves", "[http][transfers]") {
  server_fixture f;
  http_client c(f.server->port());
  open_with(c, "A", "10");
  open_with(c, "B", "5");
  REQUIRE(request_transfer(c, "T-2", "A", "B", "10.01").status == 200);
  CHECK(ended(c, "T-2").find(R"("status":"failed","reason":"insufficient_funds")") != std::string::npos);
  CHECK(balance(f, c, "A") == "10.00");
  CHECK(balance(f, c, "B") == "5.00");
  CHECK(caused_by(c, "T-2") == std::vector<std::string>{"T-2 transfer.requested", "T-2 transfer.failed"});
  auto metrics = c.request("GET", "/metrics").body;
  CHECK(metrics.find(R"(sluice_process_commands_total{process="transfers",result="rejected"} 1)") != std::string::npos);
}

TEST_CASE("a missing or closed source fails the transfer with nothing moved", "[http][transfers]") {
  server_fixture f;
  http_client c(f.server->port());
  open_with(c, "B", "5");
  open_with(c, "Z", "0");
  REQUIRE(c.request("POST", "/v1/commands", command("account.close", "Z", "{}")).status == 200);
  REQUIRE(request_transfer(c, "T-3", "NOBODY", "B", "1").status == 200);
  REQUIRE(request_transfer(c, "T-4", "Z", "B", "1").status == 200);
  CHECK(ended(c, "T-3").find(R"("status":"failed","reason":"source_unavailable")") != std::string::npos);
  CHECK(ended(c, "T-4").find(R"("status":"failed","reason":"source_unavailable")") != std::string::npos);
  CHECK(balance(f, c, "B") == "5.00");
}

TEST_CASE("a missing or closed destination: the money goes back to the source", "[http][transfers]") {
  server_fixture f;
  http_client c(f.server->port());
  open_with(c, "A", "50");
  open_with(c, "C", "0");
  REQUIRE(c.request("POST", "/v1/commands", command("account.close", "C", "{}")).status == 200);
  REQUIRE(request_transfer(c, "T-5", "A", "C", "20").status == 200);
  REQUIRE(request_transfer(c, "T-6", "A", "NOBODY", "30").status == 200);
  CHECK(ended(c, "T-5").find(R"("status":"failed","reason":"destination_unavailable")") != std::string::npos);
  CHECK(ended(c, "T-6").find(R"("status":"failed","reason":"destination_unavailable")") != std::string::npos);
  CHECK(balance(f, c, "A") == "50.00");
  CHECK(caused_by(c, "T-5") == std::vector<std::string>{"T-5 transfer.requested", "A account.withdrawn",
                                                        "T-5 transfer.debited", "T-5 transfer.credit_rejected",
                                                        "A account.deposited", "T-5 transfer.refunded",
                                                        "T-5 transfer.failed"});
  auto events = c.request("GET", "/v1/events?from=1&limit=100").body;
  CHECK(events.find(R"("command_id":"transfers/T-6/refund","data":{"amount":30.00,"transfer_id":"T-6"})") !=
        std::string::npos);
  // Nothing is owed any more: A may close once empty.
  REQUIRE(c.request("POST", "/v1/commands", command("account.withdraw", "A", R"({"amount":50})")).status == 200);
  CHECK(c.request("POST", "/v1/commands", command("account.close", "A", "{}")).status == 200);
}

TEST_CASE("a transfer to its own source is refused before it starts", "[http][transfers]") {
  server_fixture f;
  http_client c(f.server->port());
  open_with(c, "A", "50");
  auto r = request_transfer(c, "T-7", "A", "A", "1");
  CHECK(r.status == 400);
  CHECK(r.body.find(R"("code":"invalid_command")") != std::string::npos);
  CHECK(r.body.find("payload.to must differ from payload.from") != std::string::npos);
  CHECK(c.request("GET", "/v1/views/transfer_status/T-7").status == 404);
  // The process's own commands and fields are not for clients.
  auto refund = c.request("POST", "/v1/commands", command("account.refund", "A", R"({"amount":1,"transfer_id":"X"})"));
  CHECK(refund.status == 400);
  CHECK(refund.body.find("sent only by a process manager") != std::string::npos);
  auto tagged =
      c.request("POST", "/v1/commands", command("account.withdraw", "A", R"({"amount":1,"transfer_id":"X"})"));
  CHECK(tagged.status == 400);
  CHECK(balance(f, c, "A") == "50.00");
}

TEST_CASE("an account with a transfer in flight cannot close", "[http][transfers]") {
  server_fixture f([](engine::options& o) { o.drill_delay_processes = {{"transfers", 300ms}}; });
  http_client c(f.server->port());
  open_with(c, "A", "10");
  open_with(c, "B", "0");
  REQUIRE(request_transfer(c, "T-8", "A", "B", "10").status == 200);
  // Once the withdrawal is in, A's balance is 0 but the transfer is not over.
  for (int i = 0; i < 500 && balance(f, c, "A") != "0.00"; ++i)
    std::this_thread::sleep_for(10ms);
  REQUIRE(balance(f, c, "A") == "0.00");
  auto close = c.request("POST", "/v1/commands", command("account.close", "A", "{}"));
  CHECK(close.status == 422);
  CHECK(close.body.find("1 outgoing transfer is not finished (the first: T-8)") != std::string::npos);
  auto metrics = c.request("GET", "/metrics").body;
  CHECK(metrics.find(R"(sluice_process_unfinished{process="transfers"} 1)") != std::string::npos);
  CHECK(ended(c, "T-8").find(R"("status":"completed")") != std::string::npos);
  CHECK(c.request("POST", "/v1/commands", command("account.close", "A", "{}")).status == 200);
}
