// The transfers workload (SPEC §13): random transfers among the run's
// accounts, some from or to closed or missing ones so that every path of
// the process runs. Requests go in NDJSON batches over blocking
// connections, one thread each; one WebSocket subscriber to
// transfer_status sees each transfer end, which times acknowledgement →
// ended. --verify then reads the log and the views.
#include "transfers.h"

#include "blocking_client.h"
#include "connect.h"
#include "zipf.h"

#include <boost/beast/core.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <fmt/format.h>
#include <simdjson.h>

#include <atomic>
#include <condition_variable>
#include <chrono>
#include <charconv>
#include <cmath>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <stdexcept>
#include <thread>
#include <unordered_map>

namespace sluice::load {

namespace {

namespace beast = boost::beast;
namespace websocket = beast::websocket;
using steady = std::chrono::steady_clock;

constexpr int64_t k_opening_cents = 100'000; // each account starts with 1,000.00
constexpr uint64_t k_setup_batch = 1000;
constexpr size_t k_max_problems = 20;

std::string account_id(std::string_view run, uint64_t k) { return fmt::format("ACC-{}-{}", run, k); }
std::string closed_id(std::string_view run, uint64_t k) { return fmt::format("CLS-{}-{}", run, k); }
std::string missing_id(std::string_view run, uint64_t k) { return fmt::format("NONE-{}-{}", run, k); }
std::string transfer_prefix(std::string_view run) { return fmt::format("TR-{}-", run); }

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

/// How one transfer of the run went, as the subscriber saw it.
struct tracked {
  steady::time_point acked{};
  bool was_acked = false;
  bool ended = false;
  std::string outcome; // "completed" or "failed <reason>"
};

class transfers_run {
 public:
  explicit transfers_run(const options& opt) : opt_(opt), keys_(opt.aggregates, opt.zipf) {}

  void set_up() {
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

  void start() {
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

  void measure() {
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

  report finish() {
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

  ~transfers_run() {
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

 private:
  // A transfer: mostly between open accounts (keys by --zipf), a few from a
  // missing account or to a closed or missing one; amounts 1.00 to 200.00
  // against balances that start at 1,000.00, so some lack the funds.
  void append_transfer(std::string& out, std::mt19937_64& rng, uint32_t conn, uint64_t seq) {
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

  void send(uint32_t conn) {
    std::mt19937_64 rng(0x7a11 + conn);
    uint64_t seq = 0;
    blocking_client client(target_.ep, target_.host, opt_.token, target_.tls);
    simdjson::dom::parser parser;
    std::string body;
    std::vector<std::string> ids;
    section mine;
    // Open loop: this connection's share of --rate, in batches.
    unsigned conns = std::max(1u, opt_.connections);
    auto interval = opt_.rate > 0 ? std::chrono::duration_cast<steady::duration>(std::chrono::duration<double>(
                                        static_cast<double>(opt_.batch_size) * conns / opt_.rate))
                                  : steady::duration::zero();
    auto next_send = steady::now();
    // Closed loop: at most --pipeline batches per connection unfinished, so
    // that the process sets the pace rather than a queue in front of it.
    auto cap = static_cast<uint64_t>(opt_.pipeline) * conns * opt_.batch_size;
    while (!stop_.load()) {
      int64_t n = opt_.batch_size;
      if (opt_.count) {
        auto left = budget_.fetch_sub(n);
        if (left <= 0)
          break;
        n = std::min(n, left);
      }
      if (opt_.rate > 0) {
        std::this_thread::sleep_until(next_send);
        next_send += interval;
      } else {
        std::unique_lock lk(mu_);
        cv_.wait(lk, [&] { return stop_.load() || acked_ - ended_acked_ + static_cast<uint64_t>(n) <= cap; });
        if (stop_.load())
          break;
      }
      body.clear();
      ids.clear();
      for (int64_t i = 0; i < n; ++i) {
        ids.push_back(fmt::format("{}{}-{}", transfer_prefix(run_), conn, seq));
        append_transfer(body, rng, conn, seq++);
      }
      auto sent = steady::now();
      http_answer res;
      try {
        res = client.post("/v1/commands/batch", body, "application/x-ndjson");
      } catch (const std::exception& e) {
        std::lock_guard lk(mu_);
        unanswered_ += static_cast<uint64_t>(n);
        ++batches_.errors[fmt::format("connection: {}", e.what())];
        break;
      }
      auto now = steady::now();
      mine.requests = 1;
      mine.items = static_cast<uint64_t>(n);
      mine.latency = {};
      mine.latency.record(static_cast<uint64_t>((now - sent).count()));
      mine.ok = res.status == 200;
      mine.items_ok = 0;
      mine.errors.clear();
      std::vector<size_t> accepted;
      if (res.status != 200) {
        ++mine.errors[fmt::format("{}", res.status)];
      } else {
        // parse_many reads past the end of its input: it needs the padding.
        simdjson::padded_string padded(res.body);
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
        mine.items_ok = accepted.size();
      }
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
  }

  // Under mu_.
  void record_end(tracked& t, steady::time_point ended_at) {
    ended_latency_.record(static_cast<uint64_t>(std::max<int64_t>(0, (ended_at - t.acked).count())));
    ++ended_acked_;
    cv_.notify_all(); // a sender waiting for room, or the end of the run
  }

  void on_message(std::string_view text, simdjson::dom::parser& parser) {
    auto now = steady::now();
    ws_messages_.fetch_add(1, std::memory_order_relaxed);
    simdjson::dom::element doc;
    std::string_view type, key, status, reason;
    if (parser.parse(text).get(doc) || doc["type"].get(type))
      return note_error("ws: not JSON");
    if (type == "subscribed") {
      std::lock_guard lk(mu_);
      subscribed_ = true;
      cv_.notify_all();
      return;
    }
    if (type == "error")
      return note_error(fmt::format("ws: error {}", simdjson::minify(doc["code"])));
    if (type != "change" && type != "snapshot")
      return;
    if (doc["key"].get(key) || !key.starts_with(transfer_prefix(run_)))
      return;
    if (doc["value"]["status"].get(status))
      return;
    bool completed = status == "completed";
    if (!completed && status != "failed")
      return;
    if (!completed && doc["value"]["reason"].get(reason))
      reason = "?";
    std::lock_guard lk(mu_);
    auto& t = tracked_[std::string(key)];
    if (t.ended)
      return; // a snapshot after a change, or a repeat: it ended once
    t.ended = true;
    t.outcome = completed ? std::string("completed") : fmt::format("failed {}", reason);
    ++ended_;
    last_end_ = now;
    if (t.was_acked)
      record_end(t, now);
  }

  void note_error(std::string what) {
    std::lock_guard lk(mu_);
    if (sub_error_.empty() && !closing_)
      sub_error_ = std::move(what);
    cv_.notify_all();
  }

  template <class Stream>
  void read_stream(Stream& ws) {
    if (!opt_.token.empty())
      ws.set_option(websocket::stream_base::decorator([token = opt_.token](websocket::request_type& req) {
        req.set(beast::http::field::authorization, "Bearer " + token);
      }));
    ws.handshake(target_.host, "/v1/stream");
    ws.text(true);
    ws.write(
        boost::asio::buffer(std::string_view(R"({"op":"subscribe","id":"t","view":"transfer_status","key":"*"})")));
    simdjson::dom::parser parser;
    beast::flat_buffer buf;
    for (;;) {
      ws.read(buf);
      auto data = buf.cdata();
      on_message(std::string_view(static_cast<const char*>(data.data()), data.size()), parser);
      buf.consume(buf.size());
    }
  }

  void subscribe() {
    try {
      if (target_.tls) {
        websocket::stream<beast::ssl_stream<beast::tcp_stream>> ws(ioc_, *target_.tls);
        {
          std::lock_guard lk(mu_);
          socket_ = &beast::get_lowest_layer(ws).socket();
        }
        beast::get_lowest_layer(ws).connect(target_.ep);
        ws.next_layer().handshake(boost::asio::ssl::stream_base::client);
        read_stream(ws);
      } else {
        websocket::stream<beast::tcp_stream> ws(ioc_);
        {
          std::lock_guard lk(mu_);
          socket_ = &beast::get_lowest_layer(ws).socket();
        }
        beast::get_lowest_layer(ws).connect(target_.ep);
        read_stream(ws);
      }
    } catch (const std::exception& e) {
      note_error(fmt::format("ws: {}", e.what()));
    }
    std::lock_guard lk(mu_);
    socket_ = nullptr;
  }

  void close_subscriber() {
    {
      std::lock_guard lk(mu_);
      closing_ = true;
      if (socket_) {
        boost::system::error_code ec;
        socket_->shutdown(boost::asio::ip::tcp::socket::shutdown_both, ec);
      }
    }
    if (subscriber_.joinable())
      subscriber_.join();
  }

  // --verify: the log and the views, after every transfer ended.
  verify_result verify() {
    verify_result r;
    r.ran = true;
    auto problem = [&](std::string p) {
      ++r.problem_count;
      if (r.problems.size() < k_max_problems)
        r.problems.push_back(std::move(p));
    };
    simdjson::dom::parser parser;
    auto prefix = transfer_prefix(run_);

    // The log: one end per transfer, at most one event per transfer and step.
    struct steps {
      int ends = 0;
      std::map<std::string, int> counts; // "aggregate type" → events
      bool completed = false, refunded = false;
      std::string from, to;
    };
    std::unordered_map<std::string, steps> seen;
    std::map<std::string, int64_t> balance; // the run's accounts, from the log
    uint64_t from = 1;
    for (;;) {
      auto page = client_->get(fmt::format("/v1/events?from={}&limit=100000", from));
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
      simdjson::padded_string padded(page.body); // parse_many reads past the end of its input
      simdjson::dom::document_stream docs;
      if (parser.parse_many(padded).get(docs)) {
        problem(fmt::format("GET /v1/events?from={}: not NDJSON", from));
        break;
      }
      uint64_t last = 0;
      for (auto doc : docs) {
        simdjson::dom::element ev;
        std::string_view id, type, tid;
        if (doc.get(ev) || ev["position"].get(last) || ev["aggregate_id"].get(id) || ev["type"].get(type)) {
          problem("an event is not valid JSON");
          continue;
        }
        ++r.events_scanned;
        auto data = ev["data"];
        if (id.starts_with(prefix)) {
          auto& s = seen[std::string(id)];
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
        } else if (id.find(run_) != std::string_view::npos &&
                   (type == "account.deposited" || type == "account.withdrawn")) {
          double amount = 0;
          if (data["amount"].get(amount)) {
            problem(fmt::format("event {}: no amount", last));
            continue;
          }
          auto cents = std::llround(amount * 100);
          balance[std::string(id)] += type == "account.deposited" ? cents : -cents;
          if (!data["transfer_id"].get(tid) && tid.starts_with(prefix))
            ++seen[std::string(tid)].counts[fmt::format("{} {}", id, type)];
        }
      }
      if (last < from)
        break;
      from = last + 1;
    }
    for (auto& [id, t] : tracked_) {
      if (!t.was_acked)
        continue;
      ++r.acks_checked;
      auto it = seen.find(id);
      if (it == seen.end() || it->second.counts["transfer.requested"] != 1) {
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

    // The invariant: no client withdrew, so the balances add up to the
    // opening deposits; each view row is the log's.
    int64_t sum = 0;
    std::string after = fmt::format("ACC-{}-", run_);
    uint64_t views = 0;
    for (bool more = true; more;) {
      auto page = client_->get(fmt::format("/v1/views/account_balance?after={}&limit=1000", after));
      simdjson::dom::element doc;
      simdjson::dom::array items;
      if (page.status != 200 || parser.parse(page.body).get(doc) || doc["items"].get(items)) {
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
        if (cents != balance[std::string(key)])
          problem(fmt::format("account {}: view balance {:.2f}, the log's {:.2f}", key, b,
                              static_cast<double>(balance[std::string(key)]) / 100));
        if (cents < 0)
          problem(fmt::format("account {}: negative balance {:.2f}", key, b));
      }
    }
    r.views_checked = views;
    auto want = static_cast<int64_t>(opt_.aggregates) * k_opening_cents;
    if (views != opt_.aggregates)
      problem(fmt::format("account_balance lists {} of the run's {} accounts", views, opt_.aggregates));
    else if (sum != want)
      problem(fmt::format("the balances add up to {:.2f}, the opening deposits to {:.2f}",
                          static_cast<double>(sum) / 100, static_cast<double>(want) / 100));
    for (uint64_t k = 0; k < closed_; ++k)
      if (balance[closed_id(run_, k)] != 0)
        problem(fmt::format("closed account {} received money", closed_id(run_, k)));
    r.ok = r.problem_count == 0;
    return r;
  }

  const options& opt_;
  key_chooser keys_;
  target target_;
  std::string run_;
  uint64_t closed_ = 1;
  std::optional<blocking_client> client_;
  boost::asio::io_context ioc_;

  std::atomic<bool> stop_{false};
  std::atomic<int64_t> budget_{INT64_MAX};
  std::atomic<size_t> senders_done_{0};
  std::vector<std::thread> senders_;
  std::thread subscriber_;
  steady::time_point start_{}, sent_until_{};

  std::mutex mu_; // guards everything below
  std::condition_variable cv_;
  bool subscribed_ = false, closing_ = false;
  std::string sub_error_;
  boost::asio::ip::tcp::socket* socket_ = nullptr;
  std::unordered_map<std::string, tracked> tracked_;
  section batches_;
  histogram ended_latency_;
  uint64_t acked_ = 0, ended_ = 0, ended_acked_ = 0, unanswered_ = 0;
  std::atomic<uint64_t> ws_messages_{0};
  steady::time_point last_end_{};
  std::vector<point> series_;
};

} // namespace

report run_transfers(const options& opt) {
  transfers_run r(opt);
  r.set_up();
  r.start();
  r.measure();
  return r.finish();
}

} // namespace sluice::load
