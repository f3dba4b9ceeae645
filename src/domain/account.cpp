#include "domain/account.h"

#include "domain/aggregate_type_of.h"

namespace sluice::domain::account {

namespace {

struct module {
  static constexpr std::string_view name = "account";
  using state = account::state;
  using commands = type_list<open, deposit, withdraw, close>;
  using events = type_list<opened, deposited, withdrawn, closed>;
};

using account_type = aggregate_type_of<module>;

std::unexpected<std::string> reject(std::string message) { return std::unexpected(std::move(message)); }

std::optional<std::unexpected<std::string>> require_open(const state& s) {
  if (s.status == status::none)
    return reject("account does not exist");
  if (s.status == status::closed)
    return reject("account is closed");
  return std::nullopt;
}

std::string amount_text(int64_t cents) {
  std::string s;
  codec::append_money(s, cents);
  return s;
}

} // namespace

std::string_view to_string(status s) {
  switch (s) {
    case status::none: return "none";
    case status::open: return "open";
    case status::closed: return "closed";
  }
  return "?";
}

decision decide(const state& s, const open& c, event_sink& out) {
  if (s.status != status::none)
    return reject("account already exists");
  out.emit(opened{c.owner});
  return {};
}

decision decide(const state& s, const deposit& c, event_sink& out) {
  if (auto r = require_open(s))
    return *r;
  if (c.amount.cents > codec::k_max_money_cents - s.balance_cents)
    return reject("balance would exceed the largest amount");
  out.emit(deposited{c.amount});
  return {};
}

decision decide(const state& s, const withdraw& c, event_sink& out) {
  if (auto r = require_open(s))
    return *r;
  if (s.balance_cents < c.amount.cents)
    return reject(fmt::format("insufficient funds: balance {} is less than {}", amount_text(s.balance_cents),
                              amount_text(c.amount.cents)));
  out.emit(withdrawn{c.amount});
  return {};
}

decision decide(const state& s, const close&, event_sink& out) {
  if (auto r = require_open(s))
    return *r;
  if (s.balance_cents != 0)
    return reject(fmt::format("balance is {}, not 0", amount_text(s.balance_cents)));
  out.emit(closed{});
  return {};
}

void evolve(state& s, const opened& e) {
  s.status = status::open;
  s.owner = e.owner;
}

void evolve(state& s, const deposited& e) { s.balance_cents += e.amount.cents; }

void evolve(state& s, const withdrawn& e) { s.balance_cents -= e.amount.cents; }

void evolve(state& s, const closed&) { s.status = status::closed; }

const aggregate_type& type() {
  static const account_type t;
  return t;
}

const state& state_of(const aggregate_state& s) { return account_type::unbox(s); }

bool apply_event(state& s, std::string_view event_type, std::string_view data) {
  return account_type::evolve_plain(s, event_type, data);
}

} // namespace sluice::domain::account
