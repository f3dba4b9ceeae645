// The transfers workload (SPEC §13): random transfers among the run's
// accounts, some from or to closed or missing ones so that every path of
// the process runs. Requests go in NDJSON batches over blocking
// connections, one thread each; one WebSocket subscriber to
// transfer_status sees each transfer end, which times acknowledgement →
// ended. --verify then reads the log and the views.
//
// This file is the run's course; transfers_run.h names the other parts.
#include "transfers.h"

#include "transfers_run.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <iterator>
#include <mutex>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>

namespace sluice::load {

namespace detail {

namespace {

constexpr uint64_t k_setup_batch = 1000;

// All lines of a batch answered 200, or the run cannot start.
void post_all(blocking_client& client, const std::string& body, size_t lines, std::string_view what) {
  auto res = client.post("/v1/commands/batch", body, "application/x-ndjson");
  if (res.status != 200)
    throw std::runtime_error(fmt::format("{}: HTTP {}: {}", what, res.status, res.body.substr(0, 200)));
  size_t ok = 0;
  for (size_t at = 0; (at = res.body.find("\"status\":200", at)) != std::string::npos; ++at)
    ++ok;
  if (ok != lines)
    throw std::runtime_error(fmt::format("{}: {} of {} accepted: {}", what, ok, lines, res.body.substr(0, 300)));
}

} // namespace

void transfers_run::set_up() {
  target_ = resolve_target(opt_);
  run_ = opt_.run_id.empty() ? random_run_id() : opt_.run_id;
  closed_ = std::max<uint64_t>(1, opt_.aggregates / 100);
  client_.emplace(target_.ep, target_.host, opt_.token, target_.tls);
  wait_ready(*client_);
  for (uint64_t first = 0; first < opt_.aggregates; first += k_setup_batch) {
    std::string body;
    uint64_t last = std::min(opt_.aggregates, first + k_setup_batch);
    for (uint64_t k = first; k < last; ++k)
      fmt::format_to(
          std::back_inserter(body),
          R"({{"command_id":"{0}-s-a{1}","type":"account.open","aggregate_id":"{2}","payload":{{"owner":"load"}}}})"
          "\n"
          R"({{"command_id":"{0}-s-d{1}","type":"account.deposit","aggregate_id":"{2}","payload":{{"amount":{3}.{4:02}}}}})"
          "\n",
          run_, k, account_id(run_, k), k_opening_cents / 100, k_opening_cents % 100);
    post_all(*client_, body, 2 * (last - first), "opening accounts");
  }
  std::string body;
  for (uint64_t k = 0; k < closed_; ++k)
    fmt::format_to(std::back_inserter(body),
                   R"({{"type":"account.open","aggregate_id":"{0}","payload":{{"owner":"load"}}}})"
                   "\n"
                   R"({{"type":"account.close","aggregate_id":"{0}","payload":{{}}}})"
                   "\n",
                   closed_id(run_, k));
  post_all(*client_, body, 2 * closed_, "opening and closing accounts");
}

void transfers_run::start() {
  subscriber_ = std::thread([this] { subscribe(); });
  {
    std::unique_lock lk(mu_);
    cv_.wait_for(lk, std::chrono::seconds(10), [&] { return subscribed_ || !sub_error_.empty(); });
    if (!subscribed_)
      throw std::runtime_error(
          fmt::format("transfer_status subscription: {}", sub_error_.empty() ? "no answer in 10 s" : sub_error_));
  }
  // A subscription to "*" first sends a snapshot of every key the view
  // holds (earlier runs' transfers too): let it pass before the clock
  // starts, or the first changes queue behind it.
  auto settle_deadline = steady::now() + std::chrono::seconds(120);
  for (uint64_t seen = UINT64_MAX; steady::now() < settle_deadline;) {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    auto now_seen = ws_messages_.load();
    if (now_seen == seen)
      break;
    seen = now_seen;
  }
  start_ = steady::now();
  if (opt_.count)
    budget_ = static_cast<int64_t>(opt_.count);
  unsigned n = std::max(1u, opt_.connections);
  for (unsigned i = 0; i < n; ++i)
    senders_.emplace_back([this, i] {
      send(i);
      ++senders_done_;
    });
}

void transfers_run::measure() {
  auto until = start_ + std::chrono::duration_cast<steady::duration>(std::chrono::duration<double>(opt_.duration));
  auto next_tick = start_ + std::chrono::seconds(1);
  uint64_t last_ended = 0;
  while (!stop_.load()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    auto now = steady::now();
    // With --count the senders stop by themselves once it is spent.
    if ((!opt_.count && now >= until) || (opt_.count && senders_done_.load() == senders_.size()) ||
        (opt_.interrupt && opt_.interrupt->load())) {
      std::lock_guard lk(mu_);
      stop_ = true;
      cv_.notify_all();
    }
    if (now >= next_tick) {
      next_tick += std::chrono::seconds(1);
      std::lock_guard lk(mu_);
      double t = std::chrono::duration<double>(now - start_).count();
      series_.push_back({t, "ended", ended_ - last_ended, ended_ - last_ended, 0, 0});
      if (opt_.progress)
        fmt::print(stderr, "[{:>4.0f}s] transfers requested {} ended {}/s (total {}, unfinished {})\n", t, acked_,
                   ended_ - last_ended, ended_, acked_ - ended_acked_);
      last_ended = ended_;
    }
  }
  for (auto& t : senders_)
    t.join();
  sent_until_ = steady::now();
  // Every acknowledged transfer ends: wait for the subscriber to see it.
  auto deadline = steady::now() + std::chrono::seconds(opt_.interrupt && opt_.interrupt->load() ? 2 : 60);
  std::unique_lock lk(mu_);
  cv_.wait_until(lk, deadline, [&] { return ended_acked_ == acked_ || !sub_error_.empty(); });
}

report transfers_run::finish() {
  close_subscriber();
  report r;
  r.workload = "transfers";
  r.url = opt_.url;
  r.run_id = run_;
  r.connections = std::max(1u, opt_.connections);
  r.pipeline = 1;
  r.subscribers = 1;
  std::lock_guard lk(mu_);
  batches_.name = "batches";
  r.sections.push_back(batches_);
  r.unanswered = unanswered_;
  r.ws_messages = ws_messages_;
  if (!sub_error_.empty())
    r.ws_errors[sub_error_] = 1;
  r.e2e = true;
  r.e2e_label = "ack -> ended";
  r.e2e_latency = ended_latency_;
  r.e2e_unmatched = acked_ - ended_acked_;
  for (auto& [id, t] : tracked_)
    if (t.was_acked && t.ended)
      ++r.outcomes[t.outcome];
  // Throughput end to end: transfers ended over the time from the first
  // request to the last end.
  auto last = std::max(last_end_, start_ + std::chrono::milliseconds(1));
  r.seconds = std::chrono::duration<double>(last - start_).count();
  r.outcome_seconds = r.seconds;
  r.series = series_;
  if (opt_.verify)
    r.verify = verify();
  return r;
}

transfers_run::~transfers_run() {
  {
    std::lock_guard lk(mu_);
    stop_ = true;
    cv_.notify_all();
  }
  for (auto& t : senders_)
    if (t.joinable())
      t.join();
  close_subscriber();
}

} // namespace detail

report run_transfers(const options& opt) {
  detail::transfers_run r(opt);
  r.set_up();
  r.start();
  r.measure();
  return r.finish();
}

} // namespace sluice::load
