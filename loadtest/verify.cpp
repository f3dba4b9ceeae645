#include "verify.h"

#include <fmt/format.h>
#include <simdjson.h>

#include <algorithm>
#include <cmath>
#include <set>
#include <unordered_map>

namespace sluice::load {

namespace {

constexpr size_t k_max_problems = 20;
constexpr uint64_t k_page = 100'000;

uint64_t id_key(uint32_t conn, uint64_t seq) { return (uint64_t{conn} << 40) | seq; }

struct expected_row {
  int64_t cents = 0; // account balance, or order total
  int64_t qty = 0;   // order item_count
};

class checker {
 public:
  explicit checker(verify_result& r) : r_(r) {}
  template <class... Args>
  void problem(fmt::format_string<Args...> f, Args&&... args) {
    ++r_.problem_count;
    if (r_.problems.size() < k_max_problems)
      r_.problems.push_back(fmt::format(f, std::forward<Args>(args)...));
  }

 private:
  verify_result& r_;
};

int64_t to_cents(double v) { return std::llround(v * 100.0); }

// No acknowledged command has more than one event; `seen` counts the events carrying each command id.
void verify_each_once(const std::unordered_map<uint64_t, uint32_t>& seen, const verify_input& in,
                      const std::vector<ack>& acks, checker& check) {
  for (auto& a : acks) {
    auto it = seen.find(id_key(a.cmd.conn, a.cmd.seq));
    uint32_t n = it == seen.end() ? 0 : it->second;
    if (n > 1)
      check.problem("command {}-{}-{} has {} events, expected exactly one", in.run_id, a.cmd.conn, a.cmd.seq, n);
  }
}

// The log, from the first acknowledged position (`acks` sorted by it) to the
// last: each acknowledged command is at its position, and once.
void verify_log(blocking_client& client, const verify_input& in, const std::vector<ack>& acks,
                simdjson::dom::parser& parser, checker& check, verify_result& r) {
  std::unordered_map<uint64_t, uint32_t> seen; // command id → events carrying it
  if (!acks.empty()) {
    uint64_t from = acks.front().position, last = acks.back().position;
    size_t next_ack = 0;
    while (from <= last) {
      auto page = client.get(fmt::format("/v1/events?from={}&limit={}", from, k_page));
      if (page.status != 200) {
        check.problem("GET /v1/events?from={} answered {}", from, page.status);
        break;
      }
      uint64_t max_seen = 0;
      simdjson::padded_string padded(page.body); // parse_many reads past the end of its input
      simdjson::dom::document_stream docs;
      if (parser.parse_many(padded).get(docs)) {
        check.problem("GET /v1/events?from={}: not NDJSON", from);
        break;
      }
      for (auto doc : docs) {
        simdjson::dom::element ev;
        uint64_t pos = 0;
        if (doc.get(ev) || ev["position"].get(pos)) {
          check.problem("an event after position {} is not valid JSON", max_seen);
          continue;
        }
        ++r.events_scanned;
        max_seen = pos;
        std::string_view cid;
        uint32_t conn = 0;
        uint64_t seq = 0;
        bool ours = !ev["command_id"].get(cid) && parse_command_id(cid, in.run_id, conn, seq);
        if (ours)
          ++seen[id_key(conn, seq)];
        for (; next_ack < acks.size() && acks[next_ack].position <= pos; ++next_ack) {
          auto& a = acks[next_ack];
          ++r.acks_checked;
          if (a.position < pos)
            check.problem("command {}-{}-{} acknowledged at position {}: no such event", in.run_id, a.cmd.conn,
                          a.cmd.seq, a.position);
          else if (!ours || conn != a.cmd.conn || seq != a.cmd.seq)
            check.problem("position {} holds command id '{}', acknowledged for {}-{}-{}", pos, cid, in.run_id,
                          a.cmd.conn, a.cmd.seq);
        }
      }
      if (max_seen < from)
        break; // the log ends before the last acknowledged position
      from = max_seen + 1;
    }
    for (; next_ack < acks.size(); ++next_ack, ++r.acks_checked)
      check.problem("command {}-{}-{} acknowledged at position {}: beyond the end of the log", in.run_id,
                    acks[next_ack].cmd.conn, acks[next_ack].cmd.seq, acks[next_ack].position);
    verify_each_once(seen, in, acks, check);
  }
}

// The views: each row the run wrote, against the sum of what was acknowledged.
void verify_views(blocking_client& client, const verify_input& in, const std::vector<ack>& acks,
                  simdjson::dom::parser& parser, checker& check, verify_result& r) {
  std::map<std::pair<domain, uint32_t>, expected_row> expected;
  for (auto& a : acks) {
    auto& row = expected[{a.cmd.dom, a.cmd.key}];
    if (a.cmd.dom == domain::account) {
      row.cents += a.cmd.cents;
    } else {
      row.qty += a.cmd.qty;
      row.cents += a.cmd.qty * product_price_cents(a.cmd.product);
    }
  }
  std::set<std::pair<domain, uint32_t>> doubtful;
  for (auto& c : in.unknown)
    doubtful.insert({c.dom, c.key});
  uint64_t min_position = acks.empty() ? 0 : acks.back().position;
  for (auto& [k, want] : expected) {
    if (doubtful.contains(k)) {
      ++r.views_skipped;
      continue;
    }
    auto id = aggregate_id(in.run_id, k.first, k.second);
    auto res =
        client.get(fmt::format("/v1/views/{}/{}?min_position={}&timeout_ms=10000", view_of(k.first), id, min_position));
    ++r.views_checked;
    simdjson::dom::element doc;
    if (res.status != 200 || parser.parse(res.body).get(doc)) {
      check.problem("view {} of {}: HTTP {}", view_of(k.first), id, res.status);
      continue;
    }
    auto value = doc["value"];
    if (k.first == domain::account) {
      double balance = 0;
      if (value["balance"].get(balance) || to_cents(balance) != want.cents)
        check.problem("account {}: balance {:.2f}, acknowledged deposits sum to {}.{:02}", id, balance,
                      want.cents / 100, want.cents % 100);
    } else {
      double total = 0;
      int64_t items = 0;
      if (value["item_count"].get(items) || value["total"].get(total) || items != want.qty ||
          to_cents(total) != want.cents)
        check.problem("order {}: {} items totalling {:.2f}, acknowledged {} items totalling {}.{:02}", id, items, total,
                      want.qty, want.cents / 100, want.cents % 100);
    }
  }
}

} // namespace

verify_result verify_run(blocking_client& client, verify_input in) {
  verify_result r;
  r.ran = true;
  checker check(r);
  simdjson::dom::parser parser;
  auto& acks = in.acks;
  std::sort(acks.begin(), acks.end(), [](const ack& a, const ack& b) { return a.position < b.position; });
  verify_log(client, in, acks, parser, check, r);
  if (in.views) // a template's views are its domain's: their values are not known here
    verify_views(client, in, acks, parser, check, r);
  r.ok = r.problem_count == 0;
  return r;
}

} // namespace sluice::load
