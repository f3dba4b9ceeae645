#include "domain/transfer.h"

#include "domain/aggregate_type_of.h"

namespace sluice::domain::transfer {

namespace {

struct module {
  static constexpr std::string_view name = "transfer";
  using state = transfer::state;
  using commands = type_list<request, record_debit, record_credit, record_credit_rejected, record_refund, fail>;
  using events = type_list<requested, debited, credited, credit_rejected, refunded, completed, failed>;
};

using transfer_type = aggregate_type_of<module>;

// A step recorded out of order is refused: the process then knows the step
// is already on record (the only way it can happen), and nothing is
// recorded twice, whatever the idempotency window still holds.
decision require(const state& s, status expected) {
  if (s.status == expected)
    return {};
  return std::unexpected(fmt::format("transfer is {}, not {}", to_string(s.status), to_string(expected)));
}

} // namespace

std::string_view to_string(status s) {
  switch (s) {
    case status::none: return "none";
    case status::requested: return "requested";
    case status::debited: return "debited";
    case status::credit_rejected: return "credit_rejected";
    case status::completed: return "completed";
    case status::failed: return "failed";
  }
  return "?";
}

std::optional<std::string> validate(const request& c) {
  if (c.from == c.to)
    return std::string("payload.to must differ from payload.from");
  return std::nullopt;
}

decision decide(const state& s, const request& c, event_sink& out) {
  if (s.status != status::none)
    return std::unexpected(std::string("transfer already exists"));
  out.emit(requested{c.from, c.to, c.amount});
  return {};
}

decision decide(const state& s, const record_debit&, event_sink& out) {
  auto r = require(s, status::requested);
  if (r)
    out.emit(debited{});
  return r;
}

decision decide(const state& s, const record_credit&, event_sink& out) {
  auto r = require(s, status::debited);
  if (r) {
    out.emit(credited{});
    out.emit(completed{});
  }
  return r;
}

decision decide(const state& s, const record_credit_rejected& c, event_sink& out) {
  auto r = require(s, status::debited);
  if (r)
    out.emit(credit_rejected{c.reason});
  return r;
}

decision decide(const state& s, const record_refund&, event_sink& out) {
  auto r = require(s, status::credit_rejected);
  if (r) {
    out.emit(refunded{});
    out.emit(failed{s.reason});
  }
  return r;
}

decision decide(const state& s, const fail& c, event_sink& out) {
  auto r = require(s, status::requested);
  if (r)
    out.emit(failed{c.reason});
  return r;
}

void evolve(state& s, const requested& e) {
  s.status = status::requested;
  s.from = e.from;
  s.to = e.to;
  s.amount_cents = e.amount.cents;
}

void evolve(state& s, const debited&) { s.status = status::debited; }
void evolve(state&, const credited&) {}
void evolve(state& s, const credit_rejected& e) {
  s.status = status::credit_rejected;
  s.reason = e.reason;
}
void evolve(state&, const refunded&) {}
void evolve(state& s, const completed&) { s.status = status::completed; }
void evolve(state& s, const failed& e) {
  s.status = status::failed;
  s.reason = e.reason;
}

const aggregate_type& type() {
  static const transfer_type t;
  return t;
}

bool apply_event(state& s, std::string_view event_type, std::string_view data) {
  return transfer_type::evolve_plain(s, event_type, data);
}

} // namespace sluice::domain::transfer
