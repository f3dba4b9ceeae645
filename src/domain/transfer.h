// The transfer aggregate (SPEC §13): a client requests a transfer between
// two accounts; the transfers process records each step it takes on it, so
// that after a crash it knows which one comes next and takes none twice.
#pragma once

#include "codec/fields.h"
#include "codec/money.h"
#include "domain/aggregate_type.h"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace sluice::domain {
class event_sink;
}

namespace sluice::domain::transfer {

using codec::field;
using codec::money;

inline constexpr int64_t k_max_account_id = 256; ///< bytes, as an aggregate id

/// Where a transfer is: each step the process recorded.
enum class status : uint8_t {
  none,
  requested,       ///< nothing moved yet
  debited,         ///< the money left `from`
  credit_rejected, ///< `to` refused it: it goes back to `from`
  completed,       ///< the money reached `to`
  failed,          ///< nothing moved, or the money is back on `from`
};

std::string_view to_string(status s);

/// Why a transfer failed (SPEC §13).
inline constexpr std::string_view k_insufficient_funds = "insufficient_funds";
inline constexpr std::string_view k_source_unavailable = "source_unavailable";
inline constexpr std::string_view k_destination_unavailable = "destination_unavailable";

struct state {
  transfer::status status = transfer::status::none;
  std::string from, to;
  int64_t amount_cents = 0;
  std::string reason; ///< failed (and credit_rejected): why
};

template <class F>
bool inspect(F& f, state& x) {
  return f(codec::field("status", x.status), codec::field("from", x.from), codec::field("to", x.to),
           codec::field("amount_cents", x.amount_cents), codec::field("reason", x.reason));
}

// Commands. `request` is the client's; the others record the process's steps.

struct request {
  static constexpr std::string_view name = "transfer.request";
  std::string from, to;
  money amount;
};
template <class F>
bool inspect(F& f, request& x) {
  return f(field("from", x.from, 1, k_max_account_id), field("to", x.to, 1, k_max_account_id),
           field("amount", x.amount, 1, codec::k_max_money_cents));
}
std::optional<std::string> validate(const request& c);

struct record_debit {
  static constexpr std::string_view name = "transfer.record_debit";
  static constexpr bool internal = true;
};
template <class F>
bool inspect(F& f, record_debit&) {
  return f();
}

/// The credit reached `to` (and `from` is settled): the transfer completes.
struct record_credit {
  static constexpr std::string_view name = "transfer.record_credit";
  static constexpr bool internal = true;
};
template <class F>
bool inspect(F& f, record_credit&) {
  return f();
}

struct record_credit_rejected {
  static constexpr std::string_view name = "transfer.record_credit_rejected";
  static constexpr bool internal = true;
  std::string reason;
};
template <class F>
bool inspect(F& f, record_credit_rejected& x) {
  return f(field("reason", x.reason));
}

/// The money is back on `from`: the transfer fails.
struct record_refund {
  static constexpr std::string_view name = "transfer.record_refund";
  static constexpr bool internal = true;
};
template <class F>
bool inspect(F& f, record_refund&) {
  return f();
}

/// The debit was refused: the transfer fails with nothing moved.
struct fail {
  static constexpr std::string_view name = "transfer.fail";
  static constexpr bool internal = true;
  std::string reason;
};
template <class F>
bool inspect(F& f, fail& x) {
  return f(field("reason", x.reason));
}

// Events.

struct requested {
  static constexpr std::string_view name = "transfer.requested";
  std::string from, to;
  money amount;
};
template <class F>
bool inspect(F& f, requested& x) {
  return f(field("from", x.from), field("to", x.to), field("amount", x.amount));
}

struct debited {
  static constexpr std::string_view name = "transfer.debited";
};
template <class F>
bool inspect(F& f, debited&) {
  return f();
}

struct credited {
  static constexpr std::string_view name = "transfer.credited";
};
template <class F>
bool inspect(F& f, credited&) {
  return f();
}

struct credit_rejected {
  static constexpr std::string_view name = "transfer.credit_rejected";
  std::string reason;
};
template <class F>
bool inspect(F& f, credit_rejected& x) {
  return f(field("reason", x.reason));
}

struct refunded {
  static constexpr std::string_view name = "transfer.refunded";
};
template <class F>
bool inspect(F& f, refunded&) {
  return f();
}

struct completed {
  static constexpr std::string_view name = "transfer.completed";
};
template <class F>
bool inspect(F& f, completed&) {
  return f();
}

struct failed {
  static constexpr std::string_view name = "transfer.failed";
  std::string reason;
};
template <class F>
bool inspect(F& f, failed& x) {
  return f(field("reason", x.reason));
}

decision decide(const state& s, const request& c, event_sink& out);
decision decide(const state& s, const record_debit& c, event_sink& out);
decision decide(const state& s, const record_credit& c, event_sink& out);
decision decide(const state& s, const record_credit_rejected& c, event_sink& out);
decision decide(const state& s, const record_refund& c, event_sink& out);
decision decide(const state& s, const fail& c, event_sink& out);

void evolve(state& s, const requested& e);
void evolve(state& s, const debited& e);
void evolve(state& s, const credited& e);
void evolve(state& s, const credit_rejected& e);
void evolve(state& s, const refunded& e);
void evolve(state& s, const completed& e);
void evolve(state& s, const failed& e);

/// The transfer aggregate type, for registration.
const aggregate_type& type();

/// Applies an event of this type to a plain state (the process, read
/// models). False if it is not one of this type's events or does not decode.
bool apply_event(state& s, std::string_view event_type, std::string_view data);

/// True once the transfer has ended (completed or failed).
inline bool finished(status s) { return s == status::completed || s == status::failed; }

} // namespace sluice::domain::transfer
