// The account aggregate (SPEC §3): open, deposit, withdraw, close. Proves
// the engine is generic: it is one module and one registration line.
#pragma once

#include "codec/fields.h"
#include "codec/money.h"
#include "domain/aggregate_type.h"

#include <cstdint>
#include <string>
#include <string_view>

namespace sluice::domain {
class event_sink;
}

namespace sluice::domain::account {

using codec::field;
using codec::money;

inline constexpr int64_t k_max_owner = 1024; ///< bytes

enum class status : uint8_t { none, open, closed };

std::string_view to_string(status s);

struct state {
  account::status status = account::status::none;
  std::string owner;
  int64_t balance_cents = 0; ///< never negative
};

/// The field list of snapshots: changing it changes the fingerprint.
template <class F>
bool inspect(F& f, state& x) {
  return f(codec::field("status", x.status), codec::field("owner", x.owner),
           codec::field("balance_cents", x.balance_cents));
}

// Commands.

struct open {
  static constexpr std::string_view name = "account.open";
  std::string owner;
};
template <class F>
bool inspect(F& f, open& x) {
  return f(field("owner", x.owner, 1, k_max_owner));
}

struct deposit {
  static constexpr std::string_view name = "account.deposit";
  money amount;
};
template <class F>
bool inspect(F& f, deposit& x) {
  return f(field("amount", x.amount, 1, codec::k_max_money_cents));
}

struct withdraw {
  static constexpr std::string_view name = "account.withdraw";
  money amount;
};
template <class F>
bool inspect(F& f, withdraw& x) {
  return f(field("amount", x.amount, 1, codec::k_max_money_cents));
}

struct close {
  static constexpr std::string_view name = "account.close";
};
template <class F>
bool inspect(F& f, close&) {
  return f();
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

struct deposited {
  static constexpr std::string_view name = "account.deposited";
  money amount;
};
template <class F>
bool inspect(F& f, deposited& x) {
  return f(field("amount", x.amount));
}

struct withdrawn {
  static constexpr std::string_view name = "account.withdrawn";
  money amount;
};
template <class F>
bool inspect(F& f, withdrawn& x) {
  return f(field("amount", x.amount));
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

void evolve(state& s, const opened& e);
void evolve(state& s, const deposited& e);
void evolve(state& s, const withdrawn& e);
void evolve(state& s, const closed& e);

/// The account aggregate type, for registration.
const aggregate_type& type();

/// Applies an event of this type to a plain state (read models). False if
/// the type is not one of this aggregate's events or the data does not decode.
bool apply_event(state& s, std::string_view event_type, std::string_view data);

/// The state inside an aggregate_state made by type().
const state& state_of(const aggregate_state& s);

} // namespace sluice::domain::account
