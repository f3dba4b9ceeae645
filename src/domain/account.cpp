#include "domain/account.h"

#include "domain/aggregate_type_of.h"

#include <algorithm>

namespace sluice::domain::account {

namespace {

struct module {
  static constexpr std::string_view name = "account";
  using state = account::state;
  using commands = type_list<open, deposit, withdraw, close, refund, settle>;
  using events = type_list<opened, deposited, withdrawn, closed, transfer_settled>;
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

bool owes(const state& s, std::string_view transfer_id) {
  return std::ranges::any_of(s.transfers, [&](auto& t) { return t.transfer_id == transfer_id; });
}

void forget(state& s, std::string_view transfer_id) {
  std::erase_if(s.transfers, [&](auto& t) { return t.transfer_id == transfer_id; });
}

std::optional<std::string> set_by_process(const std::optional<std::string>& transfer_id) {
  if (transfer_id)
    return std::string("payload.transfer_id is set only by the transfers process");
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

std::optional<std::string> validate(const deposit& c) { return set_by_process(c.transfer_id); }
std::optional<std::string> validate(const withdraw& c) { return set_by_process(c.transfer_id); }

deposited upcast(deposited_v1&& e) { return {e.amount, std::nullopt}; }
withdrawn upcast(withdrawn_v1&& e) { return {e.amount, std::nullopt}; }

decision decide(const state& s, const deposit& c, event_sink& out) {
  if (auto r = require_open(s))
    return *r;
  if (c.amount.cents > codec::k_max_money_cents - s.balance_cents)
    return reject("balance would exceed the largest amount");
  out.emit(deposited{c.amount, c.transfer_id});
  return {};
}

decision decide(const state& s, const withdraw& c, event_sink& out) {
  // A transfer's debit taken again (its command id long out of the window):
  // the account itself knows, whatever the window holds.
  if (c.transfer_id && owes(s, *c.transfer_id))
    return reject(fmt::format("{} {}", k_already_done, *c.transfer_id));
  if (auto r = require_open(s))
    return *r;
  if (s.balance_cents < c.amount.cents)
    return reject(fmt::format("{}: balance {} is less than {}", k_insufficient_funds, amount_text(s.balance_cents),
                              amount_text(c.amount.cents)));
  out.emit(withdrawn{c.amount, c.transfer_id});
  return {};
}

decision decide(const state& s, const close&, event_sink& out) {
  if (auto r = require_open(s))
    return *r;
  if (!s.transfers.empty())
    return reject(fmt::format("{} outgoing transfer{} not finished (the first: {})", s.transfers.size(),
                              s.transfers.size() == 1 ? " is" : "s are", s.transfers.front().transfer_id));
  if (s.balance_cents != 0)
    return reject(fmt::format("balance is {}, not 0", amount_text(s.balance_cents)));
  out.emit(closed{});
  return {};
}

// The money left this account: it comes back whatever the balance is now
// (the account cannot have closed meanwhile), without the cap of a deposit,
// which could otherwise keep a transfer from ending.
decision decide(const state& s, const refund& c, event_sink& out) {
  if (!owes(s, c.transfer_id))
    return reject(fmt::format("{} {}", k_already_done, c.transfer_id));
  out.emit(deposited{c.amount, c.transfer_id});
  return {};
}

decision decide(const state& s, const settle& c, event_sink& out) {
  if (!owes(s, c.transfer_id))
    return reject(fmt::format("{} {}", k_already_done, c.transfer_id));
  out.emit(transfer_settled{c.transfer_id});
  return {};
}

void evolve(state& s, const opened& e) {
  s.status = status::open;
  s.owner = e.owner;
}

// A deposit of a transfer this account owes is its refund: it settles it.
void evolve(state& s, const deposited& e) {
  s.balance_cents += e.amount.cents;
  if (e.transfer_id)
    forget(s, *e.transfer_id);
}

void evolve(state& s, const withdrawn& e) {
  s.balance_cents -= e.amount.cents;
  if (e.transfer_id)
    s.transfers.push_back({*e.transfer_id});
}

void evolve(state& s, const closed&) { s.status = status::closed; }

void evolve(state& s, const transfer_settled& e) { forget(s, e.transfer_id); }

const aggregate_type& type() {
  static const account_type t;
  return t;
}

const state& state_of(const aggregate_state& s) { return account_type::unbox(s); }

bool apply_event(state& s, std::string_view event_type, std::string_view data) {
  return account_type::evolve_plain(s, event_type, data);
}

} // namespace sluice::domain::account
