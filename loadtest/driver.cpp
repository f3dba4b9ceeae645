#include "driver.h"

#include "blocking_client.h"
#include "commands.h"
#include "connect.h"
#include "http_conn.h"
#include "response_reader.h"
#include "transfers.h"
#include "verify.h"
#include "ws_subscriber.h"
#include "zipf.h"

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <fmt/format.h>
#include <simdjson.h>

#include <atomic>
#include <charconv>
#include <deque>
#include <latch>
#include <mutex>
#include <random>
#include <stdexcept>
#include <thread>
#include <unordered_map>

namespace sluice::load {

std::optional<workload> parse_workload(std::string_view name) {
  for (auto& w : k_workloads)
    if (w.name == name)
      return w.kind;
  return std::nullopt;
}

namespace {

using namespace detail;
namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using steady = std::chrono::steady_clock;
using boost::system::error_code;

// The number after the first (or the last) "position": in `body`; 0 if none.
uint64_t position_in(std::string_view body, bool last) {
  constexpr std::string_view k_key = "\"position\":";
  auto at = last ? body.rfind(k_key) : body.find(k_key);
  uint64_t p = 0;
  if (at != std::string_view::npos)
    std::from_chars(body.data() + at + k_key.size(), body.data() + body.size(), p);
  return p;
}

// A template's create lines for every aggregate, in batches, all accepted.
// Its views are the domain's own: nothing to wait for by name.
void create_from_template(blocking_client& client, const shared_state& sh) {
  constexpr uint64_t k_per_batch = 1000;
  auto& t = *sh.opt.tmpl;
  if (t.creates() == 0)
    return;
  for (uint64_t first = 0; first < sh.opt.aggregates; first += k_per_batch) {
    std::string body;
    uint64_t last = std::min(sh.opt.aggregates, first + k_per_batch);
    for (uint64_t k = first; k < last; ++k)
      for (size_t i = 0; i < t.creates(); ++i) {
        t.append_create(body, i, {sh.run, k, 0, 0});
        body.push_back('\n');
      }
    auto res = client.post("/v1/commands/batch", body, "application/x-ndjson");
    if (res.status != 200)
      throw std::runtime_error(fmt::format("creating aggregates: HTTP {}: {}", res.status, res.body.substr(0, 200)));
    size_t ok = 0;
    for (size_t at = 0; (at = res.body.find("\"status\":200", at)) != std::string::npos; ++at)
      ++ok;
    if (ok != (last - first) * t.creates())
      throw std::runtime_error(fmt::format("creating aggregates from the template: {} of {} accepted: {}", ok,
                                           (last - first) * t.creates(), res.body.substr(0, 300)));
  }
}

void create_aggregates(blocking_client& client, const shared_state& sh) {
  if (sh.opt.tmpl)
    return create_from_template(client, sh);
  constexpr uint64_t k_per_batch = 1000;
  uint64_t created_up_to = 0;
  std::vector<std::string_view> views;
  for (domain d : {domain::account, domain::order}) {
    if ((d == domain::account ? sh.opt.accounts_weight : sh.opt.orders_weight) == 0)
      continue;
    for (uint64_t first = 0; first < sh.opt.aggregates; first += k_per_batch) {
      std::string body;
      uint64_t last = std::min(sh.opt.aggregates, first + k_per_batch);
      for (uint64_t k = first; k < last; ++k) {
        append_create_json(body, sh.run, d, k);
        body.push_back('\n');
      }
      auto res = client.post("/v1/commands/batch", body, "application/x-ndjson");
      if (res.status != 200)
        throw std::runtime_error(fmt::format("creating aggregates: HTTP {}: {}", res.status, res.body.substr(0, 200)));
      size_t ok = 0;
      for (size_t at = 0; (at = res.body.find("\"status\":200", at)) != std::string::npos; ++at)
        ++ok;
      if (ok != last - first)
        throw std::runtime_error(
            fmt::format("creating aggregates: {} of {} accepted: {}", ok, last - first, res.body.substr(0, 300)));
      // Lines answer in order: the last holds the batch's highest position.
      created_up_to = std::max(created_up_to, position_in(res.body, true));
    }
    views.push_back(view_of(d));
  }
  // Views are eventually consistent: wait until every shard of each view
  // the run reads has applied the creations (a listing's position is its
  // slowest shard's), so the first reads find their keys.
  auto deadline = steady::now() + std::chrono::seconds(30);
  for (auto view : views)
    for (;;) {
      auto res = client.get(fmt::format("/v1/views/{}?limit=1", view));
      if (res.status == 200 && position_in(res.body, false) >= created_up_to) // the page's, before its items
        break;
      if (steady::now() > deadline)
        throw std::runtime_error(fmt::format("creating aggregates: view {} did not reach position {} in 30 s (HTTP {})",
                                             view, created_up_to, res.status));
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
}

// One run, in its phases: set_up() resolves the server and creates the
// aggregates, start() the threads, subscribers and connections, measure()
// prints progress until the run ends and drains, finish() reports.
class driver_run {
 public:
  explicit driver_run(const options& opt) : opt_(opt), sh_(opt) {}
  ~driver_run() {
    if (!threads_.empty()) // an exception between start() and measure()
      stop_threads();
  }
  driver_run(const driver_run&) = delete;
  driver_run& operator=(const driver_run&) = delete;

  void set_up() {
    if (opt_.orders_weight + opt_.accounts_weight == 0)
      throw std::runtime_error("--mix: at least one domain needs a weight");
    if (opt_.kind == workload::create && opt_.tmpl)
      throw std::runtime_error("create makes orders of the built-in domain: it takes no --template");
    if (opt_.tmpl && opt_.kind != workload::ingest && opt_.kind != workload::batch)
      throw std::runtime_error("--template drives the ingest and batch workloads only");
    if (opt_.tmpl && opt_.verify && !opt_.tmpl->traceable())
      throw std::runtime_error("--verify with --template: every send line needs \"command_id\":\"{id}\"");
    auto t = resolve_target(opt_);
    sh_.run = opt_.run_id.empty() ? random_run_id() : opt_.run_id;
    sh_.host = t.host;
    sh_.ep = t.ep;
    sh_.tls = t.tls;
    sh_.record_acks = opt_.verify;
    sh_.e2e = opt_.kind == workload::e2e;
    if (opt_.count)
      sh_.budget = static_cast<int64_t>(opt_.count);
    client_.emplace(sh_.ep, sh_.host, opt_.token, sh_.tls);
    if (!opt_.token.empty())
      sh_.auth_header = "Authorization: Bearer " + opt_.token + "\r\n";
    if (opt_.setup) {
      wait_ready(*client_);
      if (opt_.kind != workload::create) // it creates as it goes
        create_aggregates(*client_, sh_);
    }
  }

  void start() {
    n_threads_ = std::max(1u, opt_.threads);
    for (unsigned i = 0; i < n_threads_; ++i)
      ctxs_.push_back(std::make_unique<thread_ctx>(0x5eed + i));
    for (auto& c : ctxs_)
      guards_.push_back(asio::make_work_guard(c->ioc));
    for (auto& c : ctxs_)
      threads_.emplace_back([&ioc = c->ioc] { ioc.run(); });
    start_subscribers();
    add_connections();
    sh_.start = steady::now();
    measure_from_ = opt_.count ? sh_.start : sh_.start + seconds(opt_.warmup);
    measure_until_ = opt_.count ? steady::time_point::max() : measure_from_ + seconds(opt_.duration);
    sh_.measure_from = ns_of(measure_from_);
    sh_.measure_until = ns_of(measure_until_);
    for (size_t i = 0; subscribers_ready_ && i < conns_.size(); ++i)
      asio::post(ctxs_[i % n_threads_]->ioc, [c = conns_[i].get()] { c->start(); });
  }

  void measure() {
    auto next_tick = sh_.start + std::chrono::seconds(1);
    steady::time_point drain_deadline = steady::time_point::max();
    if (!subscribers_ready_)
      sh_.stopping = true;
    for (;;) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
      auto now = steady::now();
      bool budget_spent = opt_.count && sh_.budget.load() <= 0;
      bool interrupted = opt_.interrupt && opt_.interrupt->load();
      if (!sh_.stopping && (now >= measure_until_ || budget_spent || interrupted)) {
        sh_.stopping = true;
        drain_deadline = now + std::chrono::seconds(interrupted ? 2 : 10);
        if (interrupted && now < measure_until_) {
          // Measure what was sent until now, over the time it took.
          measure_until_ = std::max(now, measure_from_);
          sh_.measure_until = ns_of(measure_until_);
        }
      }
      if (sh_.stopping && (sh_.outstanding.load() == 0 || now >= drain_deadline))
        break;
      if (now < next_tick)
        continue;
      next_tick += std::chrono::seconds(1);
      sh_.matcher.expire(now, std::chrono::seconds(10));
      collect();
      if (opt_.progress)
        print_progress(now);
    }
    stop_threads();
  }

  report finish() {
    report r;
    r.workload = std::string(k_workloads[static_cast<size_t>(opt_.kind)].name);
    r.url = opt_.url;
    r.run_id = sh_.run;
    r.connections = static_cast<unsigned>(conns_.size());
    r.pipeline = opt_.pipeline;
    r.target_rate = opt_.rate;
    r.subscribers = n_subs_;
    if (!subscribers_ready_)
      r.ws_errors["subscribers not subscribed within 10 s"] = n_subs_ - sh_.subscribed.load();
    verify_input vin;
    vin.run_id = sh_.run;
    vin.views = !opt_.tmpl && opt_.kind != workload::create;
    for (auto& c : ctxs_) {
      for (size_t i = 0; i < s_count; ++i)
        total_[i].merge(c->interval[i]);
      ws_total_ += c->ws_messages;
      r.unanswered += c->unanswered;
      for (auto& [k, n] : c->ws_errors)
        r.ws_errors[k] += n;
      vin.acks.insert(vin.acks.end(), c->acks.begin(), c->acks.end());
      vin.unknown.insert(vin.unknown.end(), c->unknown.begin(), c->unknown.end());
    }
    r.unanswered += static_cast<uint64_t>(std::max<int64_t>(0, sh_.outstanding.load()));
    r.ws_messages = ws_total_;
    for (size_t i = 0; i < s_count; ++i) {
      total_[i].name = k_section_names[i];
      if (total_[i].requests || !total_[i].errors.empty())
        r.sections.push_back(std::move(total_[i]));
    }
    if (opt_.count) {
      auto last = std::max(sh_.last_answer.load(), ns_of(measure_from_) + 1);
      r.seconds = static_cast<double>(last - ns_of(measure_from_)) / 1e9;
    } else {
      r.seconds = std::chrono::duration<double>(measure_until_ - measure_from_).count();
    }
    if (sh_.e2e) {
      r.e2e = true;
      sh_.matcher.finish(r.e2e_latency, r.e2e_unmatched);
    }
    r.series = std::move(series_);
    if (opt_.verify)
      r.verify = verify_run(*client_, std::move(vin));
    return r;
  }

 private:
  static steady::duration seconds(double s) {
    return std::chrono::duration_cast<steady::duration>(std::chrono::duration<double>(s));
  }

  // Subscribers first, so the changes of the measured commands reach them.
  void start_subscribers() {
    if (opt_.kind == workload::subscribe || opt_.kind == workload::mixed || opt_.kind == workload::e2e)
      n_subs_ = std::max(opt_.kind == workload::e2e ? 1u : 0u, opt_.subscribers);
    for (unsigned i = 0; i < n_subs_; ++i) {
      auto& ctx = *ctxs_[i % n_threads_];
      if (sh_.tls)
        subs_.push_back(std::make_unique<ws_sub_over<asio::ssl::stream<beast::tcp_stream>>>(sh_, ctx, *sh_.tls));
      else
        subs_.push_back(std::make_unique<ws_sub_over<beast::tcp_stream>>(sh_, ctx));
      asio::post(ctx.ioc, [s = subs_.back().get()] { s->start(); });
    }
    auto deadline = steady::now() + std::chrono::seconds(10);
    while (sh_.subscribed.load() < n_subs_ && steady::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    subscribers_ready_ = sh_.subscribed.load() == n_subs_;
  }

  void add_connections() {
    auto add = [&](section_id kind, unsigned n) {
      double per_conn = opt_.rate > 0 ? opt_.rate / n : 0;
      for (unsigned i = 0; i < n; ++i) {
        auto& ctx = *ctxs_[conns_.size() % n_threads_];
        conns_.push_back(std::make_unique<http_conn>(sh_, ctx, kind, static_cast<uint32_t>(conns_.size()), per_conn));
      }
    };
    switch (opt_.kind) {
      case workload::ingest:
      case workload::subscribe:
      case workload::e2e: add(s_commands, opt_.connections); break;
      case workload::batch:
      case workload::create: add(s_batches, opt_.connections); break;
      case workload::query: add(s_queries, opt_.connections); break;
      case workload::mixed:
        add(s_commands, opt_.connections);
        add(s_queries, opt_.query_connections);
        break;
      case workload::transfers: break; // run_transfers()
    }
  }

  // Takes what each thread measured since the last call.
  void collect() {
    std::mutex mu;
    std::latch done(static_cast<ptrdiff_t>(ctxs_.size()));
    std::array<section, s_count> second;
    for (auto& c : ctxs_)
      asio::post(c->ioc, [&, ctx = c.get()] {
        std::lock_guard lock(mu);
        for (size_t i = 0; i < s_count; ++i) {
          second[i].merge(ctx->interval[i]);
          ctx->interval[i] = section{};
        }
        ws_total_ += ctx->ws_messages;
        ctx->ws_messages = 0;
        done.count_down();
      });
    done.wait();
    double t = std::chrono::duration<double>(steady::now() - sh_.start).count();
    for (size_t i = 0; i < s_count; ++i) {
      if (second[i].requests > 0)
        series_.push_back({t, k_section_names[i], second[i].requests, second[i].items, second[i].latency.percentile(50),
                           second[i].latency.percentile(99)});
      total_[i].merge(second[i]);
    }
  }

  void print_progress(steady::time_point now) {
    std::string line = fmt::format("[{:>4.0f}s]", std::chrono::duration<double>(now - sh_.start).count());
    for (size_t i = 0; i < s_count; ++i) {
      auto& s = total_[i];
      if (s.requests == 0 && s.errors.empty())
        continue;
      uint64_t errors = 0;
      for (auto& [k, n] : s.errors)
        errors += n;
      fmt::format_to(std::back_inserter(line), " {} {}/s (total {}, errors {}, p99 {})", k_section_names[i],
                     s.requests - last_requests_[i], s.requests, errors, format_duration(s.latency.percentile(99)));
      last_requests_[i] = s.requests;
    }
    if (n_subs_)
      fmt::format_to(std::back_inserter(line), " ws {} msg/s", ws_total_ - last_ws_);
    last_ws_ = ws_total_;
    if (now < measure_from_)
      line += " (warm-up)";
    fmt::print(stderr, "{}\n", line);
  }

  // Closes everything on its own thread, then lets the threads go.
  void stop_threads() {
    for (size_t i = 0; i < conns_.size(); ++i)
      asio::post(ctxs_[i % n_threads_]->ioc, [c = conns_[i].get()] { c->close(); });
    for (size_t i = 0; i < subs_.size(); ++i)
      asio::post(ctxs_[i % n_threads_]->ioc, [s = subs_[i].get()] { s->close(); });
    for (auto& c : ctxs_)
      asio::post(c->ioc, [ioc = &c->ioc] { ioc->stop(); });
    for (auto& t : threads_)
      t.join();
    threads_.clear();
  }

  const options& opt_;
  shared_state sh_;
  std::optional<blocking_client> client_;
  unsigned n_threads_ = 1;
  std::vector<std::unique_ptr<thread_ctx>> ctxs_;
  std::vector<std::unique_ptr<ws_sub>> subs_;
  std::vector<std::unique_ptr<http_conn>> conns_;
  std::vector<std::thread> threads_;
  std::vector<asio::executor_work_guard<asio::io_context::executor_type>> guards_;
  unsigned n_subs_ = 0;
  bool subscribers_ready_ = true;
  steady::time_point measure_from_, measure_until_;
  std::array<section, s_count> total_;
  std::vector<point> series_;
  uint64_t ws_total_ = 0;
  std::array<uint64_t, s_count> last_requests_{};
  uint64_t last_ws_ = 0;
};

} // namespace

report run(const options& opt) {
  if (opt.kind == workload::transfers)
    return run_transfers(opt);
  driver_run r(opt);
  r.set_up();
  r.start();
  r.measure();
  return r.finish();
}

} // namespace sluice::load
