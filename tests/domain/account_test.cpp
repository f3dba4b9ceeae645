#include "domain/account.h"

#include "harness.h"

using namespace sluice::domain;
using namespace sluice::domain::testing;

namespace {
const std::string open_ada = cmd("account.open", R"({"owner":"Ada"})");
const std::string dep10 = cmd("account.deposit", R"({"amount":10})");
const std::string close_ = cmd("account.close", "{}");

std::string withdraw(std::string_view amount) {
  return cmd("account.withdraw", fmt::format(R"({{"amount":{}}})", amount));
}
std::string deposit(std::string_view amount) {
  return cmd("account.deposit", fmt::format(R"({{"amount":{}}})", amount));
}
} // namespace

TEST_CASE("account commands follow every rule and error code of the contract", "[domain][account]") {
  const std::string withdraw10 = withdraw("10");
  run_table(
      account::type(),
      {
          {"open a new account", {}, open_ada, "ok"},
          {"open an open account", {open_ada}, open_ada, "rejected"},
          {"open a closed account", {open_ada, close_}, open_ada, "rejected"},
          {"open without owner", {}, cmd("account.open", "{}"), "invalid_command"},

          {"deposit to a missing account", {}, dep10, "rejected"},
          {"deposit to an open account", {open_ada}, dep10, "ok"},
          {"deposit cents", {open_ada}, deposit("0.01"), "ok"},
          {"deposit zero", {open_ada}, deposit("0"), "invalid_command"},
          {"deposit a negative amount", {open_ada}, deposit("-5"), "invalid_command"},
          {"deposit three decimals", {open_ada}, deposit("0.001"), "invalid_command"},
          {"deposit a string", {open_ada}, deposit(R"("10")"), "invalid_command"},
          {"deposit to a closed account", {open_ada, close_}, dep10, "rejected"},
          {"deposit past the largest balance", {open_ada, deposit("9999999999999.99")}, deposit("0.01"), "rejected"},

          {"withdraw from a missing account", {}, withdraw10, "rejected"},
          {"withdraw more than the balance", {open_ada, deposit("9.99")}, withdraw10, "rejected"},
          {"withdraw the whole balance", {open_ada, dep10}, withdraw10, "ok"},
          {"withdraw zero", {open_ada, dep10}, withdraw("0"), "invalid_command"},
          {"withdraw from a closed account", {open_ada, close_}, withdraw10, "rejected"},

          {"close a missing account", {}, close_, "rejected"},
          {"close with a balance", {open_ada, dep10}, close_, "rejected"},
          {"close with zero balance", {open_ada, dep10, withdraw10}, close_, "ok"},
          {"close a closed account", {open_ada, close_}, close_, "rejected"},
      });
}

TEST_CASE("the balance follows deposits and withdrawals exactly", "[domain][account]") {
  aggregate_harness h(account::type());
  REQUIRE(h.run(open_ada) == "ok");
  for (int i = 0; i < 100; ++i)
    REQUIRE(h.run(deposit("0.10")) == "ok");
  REQUIRE(h.run(withdraw("3.33")) == "ok");
  auto& s = account::state_of(h.state());
  CHECK(s.balance_cents == 1000 - 333);
  CHECK(s.owner == "Ada");
  CHECK(h.run(withdraw("6.68")) == "rejected");
  CHECK(h.last_message() == "insufficient funds: balance 6.67 is less than 6.68");
  CHECK(s.balance_cents == 667);
}
