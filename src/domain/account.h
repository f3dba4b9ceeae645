// The account aggregate (SPEC §3): open, deposit, withdraw, close; and the
// steps of transfers (SPEC §13), which carry the transfer's id and are sent
// by the transfers process only.
#pragma once

#include "codec/fields.h"
#include "codec/money.h"
#include "domain/aggregate_type.h"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sluice::domain {
class event_sink;
}

namespace sluice::domain::account {

using codec::field;
using codec::money;

inline constexpr int64_t k_max_owner = 1024; ///< bytes

enum class status : uint8_t { none, open, closed };

std::string_view to_string(status s);

/// An outgoing transfer whose money left this account and is not settled:
/// it may still have to come back (a refund), so the account stays open.
struct outgoing {
  std::string transfer_id;
};
template <class F>
bool inspect(F& f, outgoing& x) {
  return f(codec::field("transfer_id", x.transfer_id));
}

struct state {
  account::status status = account::status::none;
  std::string owner;
  int64_t balance_cents = 0;       ///< never negative
  std::vector<outgoing> transfers; ///< unsettled outgoing transfers, oldest first
};

/// The field list of snapshots: changing it changes the fingerprint.
template <class F>
bool inspect(F& f, state& x) {
  return f(codec::field("status", x.status), codec::field("owner", x.owner),
           codec::field("balance_cents", x.balance_cents), codec::field("transfers", x.transfers));
}

/// How rejections that the transfers process tells apart begin.
inline constexpr std::string_view k_insufficient_funds = "insufficient funds";
inline constexpr std::string_view k_already_done = "already done for transfer";

// Commands.

struct open {
  static constexpr std::string_view name = "account.open";
  std::string owner;
};
template <class F>
bool inspect(F& f, open& x) {
  return f(field("owner", x.owner, 1, k_max_owner));
}

/// With `transfer_id`: the credit of a transfer (from the process only).
struct deposit {
  static constexpr std::string_view name = "account.deposit";
  money amount;
  std::optional<std::string> transfer_id;
};
template <class F>
bool inspect(F& f, deposit& x) {
  return f(field("amount", x.amount, 1, codec::k_max_money_cents), field("transfer_id", x.transfer_id).not_null());
}
std::optional<std::string> validate(const deposit& c);

/// With `transfer_id`: the debit of a transfer (from the process only).
struct withdraw {
  static constexpr std::string_view name = "account.withdraw";
  money amount;
  std::optional<std::string> transfer_id;
};
template <class F>
bool inspect(F& f, withdraw& x) {
  return f(field("amount", x.amount, 1, codec::k_max_money_cents), field("transfer_id", x.transfer_id).not_null());
}
std::optional<std::string> validate(const withdraw& c);

struct close {
  static constexpr std::string_view name = "account.close";
};
template <class F>
bool inspect(F& f, close&) {
  return f();
}

/// A transfer's money back to the account it left (its credit was refused).
struct refund {
  static constexpr std::string_view name = "account.refund";
  static constexpr bool internal = true;
  money amount;
  std::string transfer_id;
};
template <class F>
bool inspect(F& f, refund& x) {
  return f(field("amount", x.amount, 1, codec::k_max_money_cents), field("transfer_id", x.transfer_id));
}

/// A transfer out of this account reached its destination: no refund can
/// follow, so the account may close again.
struct settle {
  static constexpr std::string_view name = "account.settle";
  static constexpr bool internal = true;
  std::string transfer_id;
};
template <class F>
bool inspect(F& f, settle& x) {
  return f(field("transfer_id", x.transfer_id));
}

// Events.

struct opened {
  static constexpr std::string_view name = "account.opened";
  std::string owner;
};
template <class F>
bool inspect(F& f, opened& x) {
  return f(field("owner", x.owner));
}

/// account.deposited as written before transfers (schema 1).
struct deposited_v1 {
  money amount;
};
template <class F>
bool inspect(F& f, deposited_v1& x) {
  return f(field("amount", x.amount));
}

/// With `transfer_id`: a transfer's credit, or its refund (on its source).
struct deposited {
  static constexpr std::string_view name = "account.deposited";
  static constexpr uint16_t schema = 2;
  using previous = deposited_v1;
  money amount;
  std::optional<std::string> transfer_id;
};
template <class F>
bool inspect(F& f, deposited& x) {
  return f(field("amount", x.amount), field("transfer_id", x.transfer_id));
}
deposited upcast(deposited_v1&& e);

/// account.withdrawn as written before transfers (schema 1).
struct withdrawn_v1 {
  money amount;
};
template <class F>
bool inspect(F& f, withdrawn_v1& x) {
  return f(field("amount", x.amount));
}

/// With `transfer_id`: a transfer's debit.
struct withdrawn {
  static constexpr std::string_view name = "account.withdrawn";
  static constexpr uint16_t schema = 2;
  using previous = withdrawn_v1;
  money amount;
  std::optional<std::string> transfer_id;
};
template <class F>
bool inspect(F& f, withdrawn& x) {
  return f(field("amount", x.amount), field("transfer_id", x.transfer_id));
}
withdrawn upcast(withdrawn_v1&& e);

struct transfer_settled {
  static constexpr std::string_view name = "account.transfer_settled";
  std::string transfer_id;
};
template <class F>
bool inspect(F& f, transfer_settled& x) {
  return f(field("transfer_id", x.transfer_id));
}

struct closed {
  static constexpr std::string_view name = "account.closed";
};
template <class F>
bool inspect(F& f, closed&) {
  return f();
}

decision decide(const state& s, const open& c, event_sink& out);
decision decide(const state& s, const deposit& c, event_sink& out);
decision decide(const state& s, const withdraw& c, event_sink& out);
decision decide(const state& s, const close& c, event_sink& out);
decision decide(const state& s, const refund& c, event_sink& out);
decision decide(const state& s, const settle& c, event_sink& out);

void evolve(state& s, const opened& e);
void evolve(state& s, const deposited& e);
void evolve(state& s, const withdrawn& e);
void evolve(state& s, const closed& e);
void evolve(state& s, const transfer_settled& e);

/// The account aggregate type, for registration.
const aggregate_type& type();

/// Applies an event of this type to a plain state (read models). False if
/// the type is not one of this aggregate's events or the data does not decode.
bool apply_event(state& s, std::string_view event_type, std::string_view data);

/// The state inside an aggregate_state made by type().
const state& state_of(const aggregate_state& s);

} // namespace sluice::domain::account
