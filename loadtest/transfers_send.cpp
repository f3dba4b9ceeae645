// The senders of the transfers workload: one thread per connection posts
// NDJSON batches of transfer requests and notes which were acknowledged.
#include "transfers_run.h"

#include <fmt/format.h>
#include <simdjson.h>

#include <algorithm>
#include <chrono>
#include <exception>
#include <iterator>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace sluice::load::detail {

namespace {

// The lines of a 200 answer to a batch: the indexes of those answered 200,
// every other status counted in `mine`.
std::vector<size_t> accepted_lines(simdjson::dom::parser& parser, const std::string& body, section& mine) {
  std::vector<size_t> accepted;
  // parse_many reads past the end of its input: it needs the padding.
  simdjson::padded_string padded(body);
  simdjson::dom::document_stream lines;
  size_t i = 0;
  if (!parser.parse_many(padded).get(lines))
    for (auto line : lines) {
      int64_t status = 0;
      std::string_view code;
      simdjson::dom::element e;
      if (line.get(e) || e["status"].get(status)) {
        ++mine.errors["answer not JSON"];
      } else if (status == 200) {
        accepted.push_back(i);
      } else {
        if (e["error"]["code"].get(code))
          code = "?";
        ++mine.errors[fmt::format("{} {}", status, code)];
      }
      ++i;
    }
  return accepted;
}

// One batch of `n` transfers, answered after `took`, as `mine`; the
// indexes of its lines answered 200.
std::vector<size_t> tally_batch(section& mine, simdjson::dom::parser& parser, const http_answer& res, int64_t n,
                                steady::duration took) {
  mine.requests = 1;
  mine.items = static_cast<uint64_t>(n);
  mine.latency = {};
  mine.latency.record(static_cast<uint64_t>(took.count()));
  mine.ok = res.status == 200;
  mine.items_ok = 0;
  mine.errors.clear();
  std::vector<size_t> accepted;
  if (res.status != 200) {
    ++mine.errors[fmt::format("{}", res.status)];
  } else {
    accepted = accepted_lines(parser, res.body, mine);
    mine.items_ok = accepted.size();
  }
  return accepted;
}

} // namespace

struct transfers_run::sender {
  sender(const transfers_run& run, uint32_t c);

  uint32_t conn;
  std::mt19937_64 rng;
  uint64_t seq = 0;
  blocking_client client;
  simdjson::dom::parser parser;
  std::string body;
  std::vector<std::string> ids; // of the transfers in `body`
  section mine;
  steady::duration interval{};
  steady::time_point next_send{};
  uint64_t cap = 0;
};

transfers_run::sender::sender(const transfers_run& run, uint32_t c)
    : conn(c), rng(0x7a11 + c), client(run.target_.ep, run.target_.host, run.opt_.token, run.target_.tls) {
  // Open loop: this connection's share of --rate, in batches.
  unsigned conns = std::max(1u, run.opt_.connections);
  interval = run.opt_.rate > 0 ? std::chrono::duration_cast<steady::duration>(std::chrono::duration<double>(
                                     static_cast<double>(run.opt_.batch_size) * conns / run.opt_.rate))
                               : steady::duration::zero();
  next_send = steady::now();
  // Closed loop: at most --pipeline batches per connection unfinished, so
  // that the process sets the pace rather than a queue in front of it.
  cap = static_cast<uint64_t>(run.opt_.pipeline) * conns * run.opt_.batch_size;
}

void transfers_run::send(uint32_t conn) {
  sender s(*this, conn);
  while (!stop_.load()) {
    int64_t n = opt_.batch_size;
    if (!claim(n) || !wait_turn(s, n))
      break;
    fill_batch(s, n);
    auto sent = steady::now();
    http_answer res;
    try {
      res = s.client.post("/v1/commands/batch", s.body, "application/x-ndjson");
    } catch (const std::exception& e) {
      std::lock_guard lk(mu_);
      unanswered_ += static_cast<uint64_t>(n);
      ++batches_.errors[fmt::format("connection: {}", e.what())];
      break;
    }
    auto now = steady::now();
    auto accepted = tally_batch(s.mine, s.parser, res, n, now - sent);
    record_batch(s.mine, accepted, s.ids, now);
  }
}

// With --count, takes up to `n` of the transfers left; false when none are.
bool transfers_run::claim(int64_t& n) {
  if (!opt_.count)
    return true;
  auto left = budget_.fetch_sub(n);
  if (left <= 0)
    return false;
  n = std::min(n, left);
  return true;
}

// Until the next batch of `n` may go: at its time with --rate, else when
// there is room under the cap. False when the run stopped meanwhile.
bool transfers_run::wait_turn(sender& s, int64_t n) {
  if (opt_.rate > 0) {
    std::this_thread::sleep_until(s.next_send);
    s.next_send += s.interval;
    return true;
  }
  std::unique_lock lk(mu_);
  cv_.wait(lk, [&] { return stop_.load() || acked_ - ended_acked_ + static_cast<uint64_t>(n) <= s.cap; });
  return !stop_.load();
}

void transfers_run::fill_batch(sender& s, int64_t n) {
  s.body.clear();
  s.ids.clear();
  for (int64_t i = 0; i < n; ++i) {
    s.ids.push_back(fmt::format("{}{}-{}", transfer_prefix(run_), s.conn, s.seq));
    append_transfer(s.body, s.rng, s.conn, s.seq++);
  }
}

// A transfer: mostly between open accounts (keys by --zipf), a few from a
// missing account or to a closed or missing one; amounts 1.00 to 200.00
// against balances that start at 1,000.00, so some lack the funds.
void transfers_run::append_transfer(std::string& out, std::mt19937_64& rng, uint32_t conn, uint64_t seq) {
  auto r = rng() % 1000;
  std::string from = r < 5 ? missing_id(run_, rng() % 100) : account_id(run_, keys_(rng));
  std::string to;
  if (r >= 5 && r < 25)
    to = closed_id(run_, rng() % closed_);
  else if (r >= 25 && r < 45)
    to = missing_id(run_, rng() % 100);
  else
    do
      to = account_id(run_, keys_(rng));
    while (to == from && opt_.aggregates > 1);
  if (to == from)
    to = missing_id(run_, 0);
  auto cents = 100 + rng() % 19'901;
  fmt::format_to(std::back_inserter(out),
                 R"({{"command_id":"{0}{1}-{2}","type":"transfer.request","aggregate_id":"{0}{1}-{2}",)"
                 R"("payload":{{"from":"{3}","to":"{4}","amount":{5}.{6:02}}}}})"
                 "\n",
                 transfer_prefix(run_), conn, seq, from, to, cents / 100, cents % 100);
}

// The batch's answer into the run's tally; the transfers acknowledged start
// their clock to the end.
void transfers_run::record_batch(const section& mine, const std::vector<size_t>& accepted,
                                 const std::vector<std::string>& ids, steady::time_point now) {
  std::lock_guard lk(mu_);
  batches_.merge(mine);
  for (auto i : accepted) {
    auto& t = tracked_[ids[i]];
    t.was_acked = true;
    t.acked = now;
    ++acked_;
    if (t.ended) // the change overtook the answer
      record_end(t, now);
  }
}

// Under mu_.
void transfers_run::record_end(tracked& t, steady::time_point ended_at) {
  ended_latency_.record(static_cast<uint64_t>(std::max<int64_t>(0, (ended_at - t.acked).count())));
  ++ended_acked_;
  cv_.notify_all(); // a sender waiting for room, or the end of the run
}

} // namespace sluice::load::detail
