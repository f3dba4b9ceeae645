// --verify for the transfers workload: after every transfer ended, the log
// and the account_balance view are read back and checked against what the
// subscriber saw.
#include "transfers_run.h"

#include <fmt/format.h>
#include <simdjson.h>

#include <charconv>
#include <cmath>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>

namespace sluice::load::detail {

namespace {

constexpr size_t k_max_problems = 20;

/// One --verify pass over the log and the views of a run: read_log, then
/// check_transfers and check_views. Problems are counted, the first
/// k_max_problems kept. Not thread-safe; it uses the caller's client.
class transfers_check {
 public:
  transfers_check(blocking_client& client, std::string_view run)
      : client_(client), run_(run), prefix_(transfer_prefix(run)) {
    r_.ran = true;
  }

  void read_log();
  void check_transfers(const std::unordered_map<std::string, tracked>& transfers);
  void check_views(uint64_t accounts, uint64_t closed);
  verify_result result() {
    r_.ok = r_.problem_count == 0;
    return r_;
  }

 private:
  /// What the log holds of one transfer.
  struct steps {
    int ends = 0;
    std::map<std::string, int> counts; // "aggregate type" → events
    bool completed = false, refunded = false;
    std::string from, to;
  };

  void problem(std::string p) {
    ++r_.problem_count;
    if (r_.problems.size() < k_max_problems)
      r_.problems.push_back(std::move(p));
  }
  std::optional<uint64_t> read_page(const http_answer& page, uint64_t from);
  void on_event(simdjson::dom::element ev, uint64_t position, std::string_view id, std::string_view type);
  uint64_t read_balances(int64_t& sum);

  blocking_client& client_;
  std::string run_;
  std::string prefix_;
  simdjson::dom::parser parser_;
  verify_result r_;
  std::unordered_map<std::string, steps> seen_;
  std::map<std::string, int64_t> balance_; // the run's accounts, from the log
};

// The log: one end per transfer, at most one event per transfer and step.
void transfers_check::read_log() {
  uint64_t from = 1;
  for (;;) {
    auto page = client_.get(fmt::format("/v1/events?from={}&limit=100000", from));
    if (page.status == 410) { // retention: read from where the log starts now
      problem("the log before the run is gone (retention): checked from its first position");
      auto first = page.body.find("\"first_position\":");
      if (first == std::string::npos)
        break;
      std::from_chars(page.body.data() + first + 17, page.body.data() + page.body.size(), from);
      continue;
    }
    if (page.status != 200) {
      problem(fmt::format("GET /v1/events?from={} answered {}", from, page.status));
      break;
    }
    auto last = read_page(page, from);
    if (!last || *last < from)
      break;
    from = *last + 1;
  }
}

// The position of the page's last event (0 if none), or nothing when the
// page is not NDJSON.
std::optional<uint64_t> transfers_check::read_page(const http_answer& page, uint64_t from) {
  simdjson::padded_string padded(page.body); // parse_many reads past the end of its input
  simdjson::dom::document_stream docs;
  if (parser_.parse_many(padded).get(docs)) {
    problem(fmt::format("GET /v1/events?from={}: not NDJSON", from));
    return std::nullopt;
  }
  uint64_t last = 0;
  for (auto doc : docs) {
    simdjson::dom::element ev;
    std::string_view id, type;
    if (doc.get(ev) || ev["position"].get(last) || ev["aggregate_id"].get(id) || ev["type"].get(type)) {
      problem("an event is not valid JSON");
      continue;
    }
    ++r_.events_scanned;
    on_event(ev, last, id, type);
  }
  return last;
}

void transfers_check::on_event(simdjson::dom::element ev, uint64_t position, std::string_view id,
                               std::string_view type) {
  auto data = ev["data"];
  std::string_view tid;
  if (id.starts_with(prefix_)) {
    auto& s = seen_[std::string(id)];
    ++s.counts[std::string(type)];
    if (type == "transfer.requested") {
      std::string_view f, t;
      if (!data["from"].get(f) && !data["to"].get(t)) {
        s.from = f;
        s.to = t;
      }
    }
    s.ends += type == "transfer.completed" || type == "transfer.failed";
    s.completed |= type == "transfer.completed";
    s.refunded |= type == "transfer.refunded";
  } else if (id.find(run_) != std::string_view::npos && (type == "account.deposited" || type == "account.withdrawn")) {
    double amount = 0;
    if (data["amount"].get(amount)) {
      problem(fmt::format("event {}: no amount", position));
      return;
    }
    auto cents = std::llround(amount * 100);
    balance_[std::string(id)] += type == "account.deposited" ? cents : -cents;
    if (!data["transfer_id"].get(tid) && tid.starts_with(prefix_))
      ++seen_[std::string(tid)].counts[fmt::format("{} {}", id, type)];
  }
}

// Each acknowledged transfer: requested once, ended once, its money moved
// as its end says, the end the subscriber saw.
void transfers_check::check_transfers(const std::unordered_map<std::string, tracked>& transfers) {
  for (auto& [id, t] : transfers) {
    if (!t.was_acked)
      continue;
    ++r_.acks_checked;
    auto it = seen_.find(id);
    if (it == seen_.end() || it->second.counts["transfer.requested"] != 1) {
      problem(fmt::format("transfer {} acknowledged: no transfer.requested in the log", id));
      continue;
    }
    auto& s = it->second;
    if (s.ends != 1)
      problem(fmt::format("transfer {} ended {} times", id, s.ends));
    for (auto& [step, n] : s.counts)
      if (n > 1)
        problem(fmt::format("transfer {}: {} events {}", id, n, step));
    int debits = s.counts[fmt::format("{} account.withdrawn", s.from)];
    int credits = s.counts[fmt::format("{} account.deposited", s.to)];
    int refunds = s.counts[fmt::format("{} account.deposited", s.from)];
    if (s.completed && (debits != 1 || credits != 1 || refunds != 0))
      problem(
          fmt::format("transfer {} completed with {} debits, {} credits, {} refunds", id, debits, credits, refunds));
    if (!s.completed && (credits != 0 || refunds != debits))
      problem(fmt::format("transfer {} failed with {} debits, {} credits, {} refunds", id, debits, credits, refunds));
    if (t.ended && (t.outcome == "completed") != s.completed)
      problem(fmt::format("transfer {}: the subscriber saw {}, the log says otherwise", id, t.outcome));
  }
}

// The invariant: no client withdrew, so the balances add up to the
// opening deposits; each view row is the log's.
void transfers_check::check_views(uint64_t accounts, uint64_t closed) {
  int64_t sum = 0;
  uint64_t views = read_balances(sum);
  r_.views_checked = views;
  auto want = static_cast<int64_t>(accounts) * k_opening_cents;
  if (views != accounts)
    problem(fmt::format("account_balance lists {} of the run's {} accounts", views, accounts));
  else if (sum != want)
    problem(fmt::format("the balances add up to {:.2f}, the opening deposits to {:.2f}", static_cast<double>(sum) / 100,
                        static_cast<double>(want) / 100));
  for (uint64_t k = 0; k < closed; ++k)
    if (balance_[closed_id(run_, k)] != 0)
      problem(fmt::format("closed account {} received money", closed_id(run_, k)));
}

// The view's rows of the run's accounts, each compared with the log's
// balance and added to `sum`; how many there are.
uint64_t transfers_check::read_balances(int64_t& sum) {
  std::string after = fmt::format("ACC-{}-", run_);
  uint64_t views = 0;
  for (bool more = true; more;) {
    auto page = client_.get(fmt::format("/v1/views/account_balance?after={}&limit=1000", after));
    simdjson::dom::element doc;
    simdjson::dom::array items;
    if (page.status != 200 || parser_.parse(page.body).get(doc) || doc["items"].get(items)) {
      problem(fmt::format("GET /v1/views/account_balance answered {}", page.status));
      break;
    }
    more = false;
    for (auto item : items) {
      std::string_view key;
      double b = 0;
      if (item["key"].get(key) || item["value"]["balance"].get(b))
        continue;
      if (!key.starts_with(fmt::format("ACC-{}-", run_)))
        break;
      after = key;
      more = true;
      ++views;
      auto cents = std::llround(b * 100);
      sum += cents;
      if (cents != balance_[std::string(key)])
        problem(fmt::format("account {}: view balance {:.2f}, the log's {:.2f}", key, b,
                            static_cast<double>(balance_[std::string(key)]) / 100));
      if (cents < 0)
        problem(fmt::format("account {}: negative balance {:.2f}", key, b));
    }
  }
  return views;
}

} // namespace

// --verify: the log and the views, after every transfer ended. Under mu_.
verify_result transfers_run::verify() {
  transfers_check check(*client_, run_);
  check.read_log();
  check.check_transfers(tracked_);
  check.check_views(opt_.aggregates, closed_);
  return check.result();
}

} // namespace sluice::load::detail
