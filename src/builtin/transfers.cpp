#include "builtin/transfers.h"

#include "base/string_hash.h"
#include "domain/account.h"
#include "domain/transfer.h"

#include <map>

namespace sluice::builtin {

namespace {

namespace account = domain::account;
namespace transfer = domain::transfer;
using domain::outcome;
using domain::process_step;

constexpr std::string_view k_name = "transfers";

// The steps, in the order a transfer takes them. The command id of each is
// step_id(transfers, transfer id, its name): the same in every attempt.
enum step : uint32_t {
  withdraw,        // account.withdraw on from
  record_debit,    // transfer.record_debit
  fail,            // transfer.fail: the withdrawal was refused
  deposit,         // account.deposit on to
  settle,          // account.settle on from: no refund can follow
  record_credit,   // transfer.record_credit (credited, completed)
  record_rejected, // transfer.record_credit_rejected: to refused the deposit
  refund,          // account.refund on from
  record_refund,   // transfer.record_refund (refunded, failed)
  none,
};

constexpr std::string_view step_name(step s) {
  switch (s) {
    case withdraw: return "withdraw";
    case record_debit: return "record_debit";
    case fail: return "fail";
    case deposit: return "deposit";
    case settle: return "settle";
    case record_credit: return "record_credit";
    case record_rejected: return "record_credit_rejected";
    case refund: return "refund";
    case record_refund: return "record_refund";
    case none: break;
  }
  return "none";
}

bool starts_with(const outcome& o, std::string_view prefix) {
  return o.result == outcome::kind::rejected && std::string_view(o.message).starts_with(prefix);
}

class transfers final : public domain::process_manager {
 public:
  explicit transfers(const domain::registry& types)
      : withdraw_(command(types, account::withdraw::name)),
        deposit_(command(types, account::deposit::name)),
        refund_(command(types, account::refund::name)),
        settle_(command(types, account::settle::name)),
        record_debit_(command(types, transfer::record_debit::name)),
        record_credit_(command(types, transfer::record_credit::name)),
        record_rejected_(command(types, transfer::record_credit_rejected::name)),
        record_refund_(command(types, transfer::record_refund::name)),
        fail_(command(types, transfer::fail::name)) {}

  std::string_view on_event(const log::record& r) override {
    auto it = open_.find(r.aggregate_id);
    if (it == open_.end()) {
      if (r.type != transfer::requested::name)
        return {}; // of a transfer that ended before the checkpoint
      it = open_.emplace(std::string(r.aggregate_id), instance{}).first;
      it->second.first_position = r.position;
      by_position_.emplace(r.position, it->first);
    }
    auto& in = it->second;
    auto before = in.state.status;
    if (!transfer::apply_event(in.state, r.type, r.data))
      return {};
    if (in.state.status != before)
      in.progress = none_yet;
    if (transfer::finished(in.state.status)) {
      by_position_.erase(in.first_position);
      open_.erase(it);
    }
    return r.aggregate_id;
  }

  std::optional<process_step> next(std::string_view id) override {
    auto it = open_.find(id);
    if (it == open_.end())
      return std::nullopt;
    auto& in = it->second;
    auto& s = in.state;
    auto cid = [&](step st) { return domain::step_id(k_name, id, step_name(st)); };
    switch (due(in)) {
      case withdraw:
        return step_of(withdraw, domain::make_command(withdraw_, s.from, cid(withdraw),
                                                      account::withdraw{{s.amount_cents}, std::string(id)}));
      case record_debit:
        return step_of(record_debit,
                       domain::make_command(record_debit_, id, cid(record_debit), transfer::record_debit{}));
      case fail: return step_of(fail, domain::make_command(fail_, id, cid(fail), transfer::fail{in.reason}));
      case deposit:
        return step_of(deposit, domain::make_command(deposit_, s.to, cid(deposit),
                                                     account::deposit{{s.amount_cents}, std::string(id)}));
      case settle:
        return step_of(settle, domain::make_command(settle_, s.from, cid(settle), account::settle{std::string(id)}));
      case record_credit:
        return step_of(record_credit,
                       domain::make_command(record_credit_, id, cid(record_credit), transfer::record_credit{}));
      case record_rejected:
        return step_of(record_rejected, domain::make_command(record_rejected_, id, cid(record_rejected),
                                                             transfer::record_credit_rejected{in.reason}));
      case refund:
        return step_of(refund, domain::make_command(refund_, s.from, cid(refund),
                                                    account::refund{{s.amount_cents}, std::string(id)}));
      case record_refund:
        return step_of(record_refund,
                       domain::make_command(record_refund_, id, cid(record_refund), transfer::record_refund{}));
      case none: break;
    }
    return std::nullopt;
  }

  void on_answer(std::string_view id, const process_step& st, const outcome& o) override {
    auto it = open_.find(id);
    if (it == open_.end())
      return;
    auto& in = it->second;
    if (st.kind != due(in))
      return; // the instance moved on (its event came before this answer)
    bool taken = o.result == outcome::kind::accepted || o.result == outcome::kind::duplicate;
    switch (static_cast<step>(st.kind)) {
      case withdraw:
        if (taken || starts_with(o, account::k_already_done)) {
          in.progress = step_done;
        } else {
          in.progress = step_refused;
          in.reason = starts_with(o, account::k_insufficient_funds) ? transfer::k_insufficient_funds
                                                                    : transfer::k_source_unavailable;
        }
        break;
      case deposit:
        if (taken) {
          in.progress = step_done;
        } else {
          in.progress = step_refused;
          in.reason = transfer::k_destination_unavailable;
        }
        break;
      case settle: in.progress = settled; break; // rejected: settled before (a crash in between)
      case refund:
        in.progress = step_done;
        break; // rejected: refunded before
      // A record refused is on record already: its event is on its way.
      case record_debit:
      case fail:
      case record_credit:
      case record_rejected:
      case record_refund: in.progress = recorded; break;
      case none: break;
    }
  }

  std::vector<std::string> unfinished() const override {
    std::vector<std::string> out;
    out.reserve(by_position_.size());
    for (auto& [position, id] : by_position_)
      out.push_back(id);
    return out;
  }

  size_t unfinished_count() const override { return open_.size(); }

  uint64_t oldest_unfinished() const override { return by_position_.empty() ? 0 : by_position_.begin()->first; }

 private:
  // What the answers said since the transfer's last recorded step.
  enum answered : uint8_t {
    none_yet,     // nothing taken since the last record
    step_done,    // the step after the record took effect
    step_refused, // … was refused (`reason` says why)
    settled,      // deposit done, and the source settled
    recorded,     // the next record is on its way as an event
  };

  struct instance {
    transfer::state state;
    uint64_t first_position = 0;
    answered progress = none_yet;
    std::string reason;
  };

  static domain::registry::command_ref command(const domain::registry& types, std::string_view name) {
    auto c = types.find_command(name);
    if (!c) // the model registers both types (model::make checks the process reads transfer)
      throw std::logic_error(fmt::format("the transfers process needs {}", name));
    return *c;
  }

  static process_step step_of(step s, domain::command c) { return {s, std::move(c)}; }

  // The step an instance takes next, from its recorded status and what the
  // answers since said.
  static step due(const instance& in) {
    switch (in.state.status) {
      case transfer::status::requested:
        switch (in.progress) {
          case none_yet: return withdraw;
          case step_done: return record_debit;
          case step_refused: return fail;
          default: return none;
        }
      case transfer::status::debited:
        switch (in.progress) {
          case none_yet: return deposit;
          case step_done: return settle;
          case settled: return record_credit;
          case step_refused: return record_rejected;
          default: return none;
        }
      case transfer::status::credit_rejected:
        switch (in.progress) {
          case none_yet: return refund;
          case step_done: return record_refund;
          default: return none;
        }
      default: return none;
    }
  }

  domain::registry::command_ref withdraw_, deposit_, refund_, settle_, record_debit_, record_credit_, record_rejected_,
      record_refund_, fail_;
  string_map<instance> open_;
  std::map<uint64_t, std::string> by_position_; ///< unfinished, by the position of their request
};

} // namespace

std::unique_ptr<domain::process_manager> make_transfers(const domain::registry& types) {
  return std::make_unique<transfers>(types);
}

} // namespace sluice::builtin
