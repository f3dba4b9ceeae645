#include "driver.h"

#include "blocking_client.h"
#include "base/host_port.h"
#include "commands.h"
#include "response_reader.h"
#include "verify.h"
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

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;
using steady = std::chrono::steady_clock;
using boost::system::error_code;

static_assert(simdjson::SIMDJSON_PADDING <= response_reader::k_padding);

enum section_id : size_t { s_commands, s_batches, s_queries, s_count };
constexpr const char* k_section_names[] = {"commands", "batches", "queries"};

int64_t ns_of(steady::time_point t) { return t.time_since_epoch().count(); }

/// Error names come from the server: keep them to a safe alphabet.
std::string error_name(int status, std::string_view code) {
  std::string out = std::to_string(status);
  if (!code.empty())
    out.push_back(' ');
  for (char c : code.substr(0, 40))
    out.push_back((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ? c : '?');
  return out;
}

/// Pairs each acknowledgement with the WebSocket change of the same
/// position, whichever arrives first.
class e2e_matcher {
 public:
  void on_ack(uint64_t position, steady::time_point t) {
    std::lock_guard lock(mu_);
    if (auto it = changes_.find(position); it != changes_.end()) {
      hist_.record(0);  // the change overtook the answer
      changes_.erase(it);
    } else {
      acks_.emplace(position, t);
    }
  }
  void on_change(uint64_t position, steady::time_point t) {
    std::lock_guard lock(mu_);
    if (auto it = acks_.find(position); it != acks_.end()) {
      hist_.record(static_cast<uint64_t>(std::max<int64_t>(0, (t - it->second).count())));
      acks_.erase(it);
    } else {
      changes_.emplace(position, t);
    }
  }
  /// Forgets what waited longer than `age` (conflated changes, changes of
  /// other writers), so memory stays bounded.
  void expire(steady::time_point now, std::chrono::seconds age) {
    std::lock_guard lock(mu_);
    std::erase_if(acks_, [&](auto& kv) {
      bool old = now - kv.second > age;
      unmatched_ += old;
      return old;
    });
    std::erase_if(changes_, [&](auto& kv) { return now - kv.second > age; });
  }
  void finish(histogram& out, uint64_t& unmatched) {
    std::lock_guard lock(mu_);
    out = hist_;
    unmatched = unmatched_ + acks_.size();
  }

 private:
  std::mutex mu_;
  std::unordered_map<uint64_t, steady::time_point> acks_;
  std::unordered_map<uint64_t, steady::time_point> changes_;
  histogram hist_;
  uint64_t unmatched_ = 0;
};

/// What one I/O thread owns. Only its own thread touches it while the run
/// goes on; the main thread takes `interval` through a posted handler.
struct thread_ctx {
  asio::io_context ioc{1};
  std::array<section, s_count> interval;
  uint64_t ws_messages = 0;
  std::vector<ack> acks;
  std::vector<command> unknown;
  uint64_t unanswered = 0;
  std::map<std::string, uint64_t> ws_errors;
  simdjson::dom::parser parser;
  std::mt19937_64 rng;

  explicit thread_ctx(uint64_t seed) : rng(seed) {}
};

/// Settings and counters every connection of the run shares.
struct shared_state {
  const options& opt;
  std::string run;
  std::string host;
  tcp::endpoint ep;
  key_chooser keys;
  bool record_acks = false;
  bool e2e = false;
  e2e_matcher matcher;
  steady::time_point start;
  std::atomic<int64_t> measure_from{INT64_MAX};
  std::atomic<int64_t> measure_until{INT64_MAX};
  std::atomic<bool> stopping{false};
  std::atomic<int64_t> budget{INT64_MAX};
  std::atomic<int64_t> outstanding{0};
  std::atomic<unsigned> subscribed{0};
  std::atomic<int64_t> last_answer{0};

  shared_state(const options& o) : opt(o), keys(o.aggregates, o.zipf) {}

  bool measured(steady::time_point intended) const {
    int64_t t = ns_of(intended);
    return t >= measure_from.load(std::memory_order_relaxed) && t < measure_until.load(std::memory_order_relaxed);
  }

  domain pick_domain(std::mt19937_64& rng) const {
    unsigned total = opt.orders_weight + opt.accounts_weight;
    return std::uniform_int_distribution<unsigned>(0, total - 1)(rng) < opt.orders_weight ? domain::order
                                                                                           : domain::account;
  }
};

/// One keep-alive HTTP/1.1 connection issuing one kind of request, up to
/// --pipeline at a time, closed- or open-loop. Reconnects when the server
/// closes it; what was in flight then is counted as unanswered.
class http_conn {
 public:
  http_conn(shared_state& sh, thread_ctx& ctx, section_id kind, uint32_t id, double rate)
      : sh_(sh), ctx_(ctx), kind_(kind), id_(id), sock_(ctx.ioc), timer_(ctx.ioc) {
    if (rate > 0)
      interval_ns_ = 1e9 / rate;
  }

  void start() { connect(); }

  void close() {
    closed_ = true;
    timer_.cancel();
    error_code ec;
    sock_.close(ec);
  }

 private:
  struct pending {
    steady::time_point intended;
    uint32_t commands;
  };

  void connect() {
    sock_ = tcp::socket(ctx_.ioc);
    sock_.async_connect(sh_.ep, [this, gen = ++gen_](error_code ec) {
      if (gen != gen_ || closed_)
        return;
      if (ec)
        return fail(ec.message());
      sock_.set_option(tcp::no_delay(true), ec);
      connected_ = true;
      read();
      pump();
    });
  }

  void pump() {
    if (closed_ || !connected_)
      return;
    auto now = steady::now();
    while (pending_.size() < sh_.opt.pipeline && !sh_.stopping.load(std::memory_order_relaxed)) {
      auto intended = now;
      if (interval_ns_ > 0) {
        intended = sh_.start + std::chrono::nanoseconds(static_cast<int64_t>(static_cast<double>(next_) * interval_ns_));
        if (intended > now) {
          arm(intended);
          break;
        }
      }
      if (sh_.budget.fetch_sub(1, std::memory_order_relaxed) <= 0)
        break;
      issue(intended);
      ++next_;
    }
    flush();
  }

  void arm(steady::time_point at) {
    if (armed_)
      return;
    armed_ = true;
    timer_.expires_at(at);
    timer_.async_wait([this](error_code ec) {
      armed_ = false;
      if (!ec)
        pump();
    });
  }

  command next_command() {
    command c;
    c.conn = id_;
    c.seq = seq_++;
    c.dom = sh_.pick_domain(ctx_.rng);
    c.key = static_cast<uint32_t>(sh_.keys(ctx_.rng));
    if (c.dom == domain::account) {
      c.cents = std::uniform_int_distribution<int64_t>(1, 10'000)(ctx_.rng);
    } else {
      c.product = static_cast<uint8_t>(std::uniform_int_distribution<int>(0, k_products - 1)(ctx_.rng));
      c.qty = static_cast<uint16_t>(std::uniform_int_distribution<int>(1, 3)(ctx_.rng));
    }
    return c;
  }

  void issue(steady::time_point intended) {
    auto o = std::back_inserter(out_);
    uint32_t n = 0;
    if (kind_ == s_queries) {
      domain d = sh_.pick_domain(ctx_.rng);
      fmt::format_to(o, "GET /v1/views/{}/{} HTTP/1.1\r\nHost: {}\r\n\r\n", view_of(d),
                     aggregate_id(sh_.run, d, sh_.keys(ctx_.rng)), sh_.host);
    } else {
      body_.clear();
      n = kind_ == s_commands ? 1 : sh_.opt.batch_size;
      for (uint32_t i = 0; i < n; ++i) {
        if (i)
          body_.push_back('\n');
        auto c = next_command();
        append_command_json(body_, sh_.run, c);
        commands_.push_back(c);
      }
      fmt::format_to(o, "POST {} HTTP/1.1\r\nHost: {}\r\nContent-Type: {}\r\nContent-Length: {}\r\n\r\n",
                     kind_ == s_commands ? "/v1/commands" : "/v1/commands/batch", sh_.host,
                     kind_ == s_commands ? "application/json" : "application/x-ndjson", body_.size());
      out_ += body_;
    }
    pending_.push_back({intended, n});
    sh_.outstanding.fetch_add(1, std::memory_order_relaxed);
  }

  void flush() {
    if (writing_ || out_.empty())
      return;
    writing_ = true;
    std::swap(out_, wbuf_);
    out_.clear();
    asio::async_write(sock_, asio::buffer(wbuf_), [this, gen = gen_](error_code ec, size_t) {
      if (gen != gen_ || closed_)
        return;
      writing_ = false;
      if (ec)
        return fail(ec.message());
      flush();
    });
  }

  void read() {
    constexpr size_t k_read = 64 * 1024;
    sock_.async_read_some(asio::buffer(reader_.prepare(k_read), k_read), [this, gen = gen_](error_code ec, size_t n) {
      if (gen != gen_ || closed_)
        return;
      if (ec)
        return fail(pending_.empty() ? std::string() : ec.message());
      reader_.commit(n);
      response res;
      for (;;) {
        auto r = reader_.next(res);
        if (r == response_reader::result::need_more)
          break;
        if (r == response_reader::result::error)
          return fail(reader_.error());
        if (pending_.empty())
          return fail("an answer to no request");
        answer(res);
        if (!res.keep_alive)
          return fail(pending_.empty() ? std::string() : "server closed with requests in flight");
      }
      read();
      pump();
    });
  }

  void answer(const response& res) {
    auto now = steady::now();
    pending p = pending_.front();
    pending_.pop_front();
    sh_.outstanding.fetch_sub(1, std::memory_order_relaxed);
    sh_.last_answer.store(ns_of(now), std::memory_order_relaxed);
    bool measured = sh_.measured(p.intended);
    section& s = ctx_.interval[kind_];
    if (measured) {
      ++s.requests;
      s.latency.record(static_cast<uint64_t>((now - p.intended).count()));
      s.ok += res.status == 200;
    }
    if (kind_ == s_queries) {
      if (measured && res.status != 200)
        ++s.errors[error_name(res.status, error_code_of(res.body))];
      return;
    }
    if (kind_ == s_commands) {
      command c = commands_.front();
      commands_.pop_front();
      command_answer(s, measured, res.status, res.body, c, now);
      return;
    }
    // A batch: one result line per command, in order.
    std::string_view body = res.body;
    uint32_t lines = 0;
    for (; lines < p.commands; ++lines) {
      command c = commands_.front();
      commands_.pop_front();
      if (res.status != 200) {
        command_answer(s, measured, res.status, res.body, c, now);
        continue;
      }
      auto eol = body.find('\n');
      std::string_view line = body.substr(0, eol);
      body = eol == std::string_view::npos ? std::string_view{} : body.substr(eol + 1);
      simdjson::dom::element doc;
      int64_t status = 0;
      if (line.empty() || ctx_.parser.parse(line.data(), line.size(), false).get(doc) || doc["status"].get(status)) {
        if (measured)
          ++s.errors["batch result line missing"];
        ctx_.unknown.push_back(c);
        continue;
      }
      command_answer(s, measured, static_cast<int>(status), line, c, now);
    }
  }

  std::string_view error_code_of(std::string_view body) {
    simdjson::dom::element doc;
    std::string_view code;
    if (body.empty() || ctx_.parser.parse(body.data(), body.size(), false).get(doc) ||
        doc["error"]["code"].get(code))
      return {};
    return code;
  }

  void command_answer(section& s, bool measured, int status, std::string_view body, const command& c,
                      steady::time_point now) {
    if (measured) {
      ++s.items;
      s.items_ok += status == 200;
    }
    if (status != 200) {
      if (measured)
        ++s.errors[error_name(status, error_code_of(body))];
      // 4xx and 503 change nothing; anything else may have.
      if (status >= 500 && status != 503)
        ctx_.unknown.push_back(c);
      return;
    }
    if (!sh_.record_acks && !(sh_.e2e && measured))
      return;
    simdjson::dom::element doc;
    uint64_t position = 0;
    if (ctx_.parser.parse(body.data(), body.size(), false).get(doc) || doc["position"].get(position)) {
      if (measured)
        ++s.errors["200 without position"];
      ctx_.unknown.push_back(c);
      return;
    }
    if (sh_.record_acks)
      ctx_.acks.push_back({position, c});
    if (sh_.e2e && measured)
      sh_.matcher.on_ack(position, now);
  }

  /// The connection is gone: count what was in flight, then reconnect.
  void fail(const std::string& why) {
    if (!why.empty()) {
      auto& s = ctx_.interval[kind_];
      ++s.errors[fmt::format("connection: {}", why)];
    }
    ctx_.unanswered += pending_.size();
    sh_.outstanding.fetch_sub(static_cast<int64_t>(pending_.size()), std::memory_order_relaxed);
    for (auto& c : commands_)
      ctx_.unknown.push_back(c);
    pending_.clear();
    commands_.clear();
    out_.clear();
    writing_ = false;
    connected_ = false;
    reader_ = response_reader();
    error_code ec;
    sock_.close(ec);
    ++gen_;
    if (sh_.stopping.load())
      return;
    timer_.expires_after(std::chrono::milliseconds(100));
    armed_ = true;
    timer_.async_wait([this](error_code e) {
      armed_ = false;
      if (!e && !closed_)
        connect();
    });
  }

  shared_state& sh_;
  thread_ctx& ctx_;
  section_id kind_;
  uint32_t id_;
  tcp::socket sock_;
  asio::steady_timer timer_;
  response_reader reader_;
  std::string out_, wbuf_, body_;
  std::deque<pending> pending_;
  std::deque<command> commands_;  // of the requests in pending_, in order
  double interval_ns_ = 0;
  uint64_t next_ = 0;  // open loop: index of the next intended send
  uint64_t seq_ = 0;
  uint64_t gen_ = 0;   // bumped on every reconnect; stale handlers see it
  bool connected_ = false;
  bool writing_ = false;
  bool armed_ = false;
  bool closed_ = false;
};

/// A WebSocket subscriber to every key of the run's views.
class ws_sub {
 public:
  ws_sub(shared_state& sh, thread_ctx& ctx) : sh_(sh), ctx_(ctx), ws_(ctx.ioc) {
    if (sh.opt.accounts_weight)
      subs_.push_back(R"({"op":"subscribe","id":"a","view":"account_balance","key":"*"})");
    if (sh.opt.orders_weight)
      subs_.push_back(R"({"op":"subscribe","id":"o","view":"order_summary","key":"*"})");
  }

  void start() {
    beast::get_lowest_layer(ws_).async_connect(sh_.ep, [this](error_code ec) {
      if (ec)
        return fail(ec);
      ws_.async_handshake(sh_.host, "/v1/stream", [this](error_code e) {
        if (e)
          return fail(e);
        ws_.text(true);
        write_next();
      });
    });
  }

  void close() {
    closed_ = true;
    error_code ec;
    beast::get_lowest_layer(ws_).socket().close(ec);
  }

 private:
  void write_next() {
    if (next_ == subs_.size())
      return read();
    ws_.async_write(asio::buffer(subs_[next_]), [this](error_code ec, size_t) {
      if (ec)
        return fail(ec);
      ++next_;
      write_next();
    });
  }

  void read() {
    ws_.async_read(buf_, [this](error_code ec, size_t) {
      if (ec)
        return fail(ec);
      auto now = steady::now();
      auto data = buf_.cdata();
      std::string_view text(static_cast<const char*>(data.data()), data.size());
      if (sh_.measured(now))
        ++ctx_.ws_messages;
      simdjson::dom::element doc;
      std::string_view type;
      if (ctx_.parser.parse(text).get(doc) || doc["type"].get(type)) {
        ++ctx_.ws_errors["ws: not JSON"];
      } else if (type == "change") {
        uint64_t position = 0;
        if (sh_.e2e && !doc["position"].get(position))
          sh_.matcher.on_change(position, now);
      } else if (type == "subscribed") {
        if (++acked_ == subs_.size())
          sh_.subscribed.fetch_add(1);
      } else if (type == "error") {
        std::string_view code = "unknown";
        if (doc["code"].get(code))
          code = "unknown";
        ++ctx_.ws_errors[error_name(0, code)];
      }
      buf_.consume(buf_.size());
      read();
    });
  }

  void fail(error_code ec) {
    if (!closed_ && !sh_.stopping.load())
      ++ctx_.ws_errors[fmt::format("ws: {}", ec.message())];
  }

  shared_state& sh_;
  thread_ctx& ctx_;
  websocket::stream<beast::tcp_stream> ws_;
  beast::flat_buffer buf_;
  std::vector<std::string> subs_;
  size_t next_ = 0;
  size_t acked_ = 0;
  bool closed_ = false;
};

struct endpoint_spec {
  std::string host;
  std::string port;
};

endpoint_spec parse_url(const std::string& url) {
  std::string_view u = url;
  if (u.starts_with("http://"))
    u.remove_prefix(7);
  else if (u.find("://") != std::string_view::npos)
    throw std::runtime_error(fmt::format("--url {}: only http:// is supported", url));
  auto hp = parse_host_port(u.substr(0, u.find('/')), 80);
  if (!hp)
    throw std::runtime_error(fmt::format("--url {}", hp.error()));
  return {hp->host, std::to_string(hp->port)};
}

std::string random_run_id() {
  std::random_device rd;
  return fmt::format("{:08x}", (uint64_t{rd()} ^ static_cast<uint64_t>(steady::now().time_since_epoch().count())) &
                                   0xffffffffu);
}

/// A server replaying a large log answers 503 until it is done; one just
/// started may not listen yet.
void wait_ready(blocking_client& client) {
  auto deadline = steady::now() + std::chrono::seconds(120);
  for (;;) {
    std::string why;
    try {
      auto res = client.get("/readyz");
      if (res.status == 200)
        return;
      why = fmt::format("HTTP {}", res.status);
    } catch (const boost::system::system_error& e) {
      // Refused: give a server that is starting a few seconds, no more.
      if (steady::now() > deadline - std::chrono::seconds(115))
        throw std::runtime_error(fmt::format("cannot connect: {}", e.code().message()));
    }
    if (steady::now() > deadline)
      throw std::runtime_error(fmt::format("server not ready after 120 s: {}", why));
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

// The number after the first (or the last) "position": in `body`; 0 if none.
uint64_t position_in(std::string_view body, bool last) {
  constexpr std::string_view k_key = "\"position\":";
  auto at = last ? body.rfind(k_key) : body.find(k_key);
  uint64_t p = 0;
  if (at != std::string_view::npos)
    std::from_chars(body.data() + at + k_key.size(), body.data() + body.size(), p);
  return p;
}

void create_aggregates(blocking_client& client, const shared_state& sh) {
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
      auto res = client.post("/v1/commands/batch", std::move(body), "application/x-ndjson");
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

} // namespace

report run(const options& opt) {
  if (opt.orders_weight + opt.accounts_weight == 0)
    throw std::runtime_error("--mix: at least one domain needs a weight");
  auto spec = parse_url(opt.url);
  asio::io_context resolver_ctx;
  tcp::resolver resolver(resolver_ctx);
  error_code ec;
  auto found = resolver.resolve(spec.host, spec.port, ec);
  if (ec || found.empty())
    throw std::runtime_error(fmt::format("cannot resolve {}: {}", opt.url, ec.message()));

  shared_state sh(opt);
  sh.run = opt.run_id.empty() ? random_run_id() : opt.run_id;
  sh.host = spec.host + ":" + spec.port;
  sh.ep = found.begin()->endpoint();
  sh.record_acks = opt.verify;
  sh.e2e = opt.kind == workload::e2e;
  if (opt.count)
    sh.budget = static_cast<int64_t>(opt.count);

  blocking_client client(sh.ep, sh.host);
  if (opt.setup) {
    wait_ready(client);
    create_aggregates(client, sh);
  }

  unsigned n_threads = std::max(1u, opt.threads);
  std::vector<std::unique_ptr<thread_ctx>> ctxs;
  for (unsigned i = 0; i < n_threads; ++i)
    ctxs.push_back(std::make_unique<thread_ctx>(0x5eed + i));
  std::vector<std::unique_ptr<ws_sub>> subs;
  std::vector<std::unique_ptr<http_conn>> conns;
  std::vector<std::thread> threads;
  std::vector<asio::executor_work_guard<asio::io_context::executor_type>> guards;
  for (auto& c : ctxs)
    guards.push_back(asio::make_work_guard(c->ioc));
  for (auto& c : ctxs)
    threads.emplace_back([&ioc = c->ioc] { ioc.run(); });

  // Subscribers first, so the changes of the measured commands reach them.
  unsigned n_subs = 0;
  if (opt.kind == workload::subscribe || opt.kind == workload::mixed || opt.kind == workload::e2e)
    n_subs = std::max(opt.kind == workload::e2e ? 1u : 0u, opt.subscribers);
  for (unsigned i = 0; i < n_subs; ++i) {
    auto& ctx = *ctxs[i % n_threads];
    subs.push_back(std::make_unique<ws_sub>(sh, ctx));
    asio::post(ctx.ioc, [s = subs.back().get()] { s->start(); });
  }
  auto sub_deadline = steady::now() + std::chrono::seconds(10);
  while (sh.subscribed.load() < n_subs && steady::now() < sub_deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  bool subscribers_ready = sh.subscribed.load() == n_subs;

  auto add_conns = [&](section_id kind, unsigned n) {
    double per_conn = opt.rate > 0 ? opt.rate / n : 0;
    for (unsigned i = 0; i < n; ++i) {
      auto& ctx = *ctxs[conns.size() % n_threads];
      conns.push_back(std::make_unique<http_conn>(sh, ctx, kind, static_cast<uint32_t>(conns.size()), per_conn));
    }
  };
  switch (opt.kind) {
    case workload::ingest:
    case workload::subscribe:
    case workload::e2e: add_conns(s_commands, opt.connections); break;
    case workload::batch: add_conns(s_batches, opt.connections); break;
    case workload::query: add_conns(s_queries, opt.connections); break;
    case workload::mixed:
      add_conns(s_commands, opt.connections);
      add_conns(s_queries, opt.query_connections);
      break;
  }

  sh.start = steady::now();
  auto measure_from = opt.count ? sh.start : sh.start + std::chrono::duration_cast<steady::duration>(
                                                            std::chrono::duration<double>(opt.warmup));
  auto measure_until = opt.count ? steady::time_point::max()
                                 : measure_from + std::chrono::duration_cast<steady::duration>(
                                                      std::chrono::duration<double>(opt.duration));
  sh.measure_from = ns_of(measure_from);
  sh.measure_until = ns_of(measure_until);
  for (size_t i = 0; subscribers_ready && i < conns.size(); ++i)
    asio::post(ctxs[i % n_threads]->ioc, [c = conns[i].get()] { c->start(); });

  // Takes what each thread measured since the last call.
  std::array<section, s_count> total;
  uint64_t ws_total = 0;
  auto collect = [&] {
    std::mutex mu;
    std::latch done(static_cast<ptrdiff_t>(ctxs.size()));
    for (auto& c : ctxs)
      asio::post(c->ioc, [&, ctx = c.get()] {
        std::lock_guard lock(mu);
        for (size_t i = 0; i < s_count; ++i) {
          total[i].merge(ctx->interval[i]);
          ctx->interval[i] = section{};
        }
        ws_total += ctx->ws_messages;
        ctx->ws_messages = 0;
        done.count_down();
      });
    done.wait();
  };

  auto next_tick = sh.start + std::chrono::seconds(1);
  std::array<uint64_t, s_count> last_requests{};
  uint64_t last_ws = 0;
  steady::time_point drain_deadline = steady::time_point::max();
  if (!subscribers_ready)
    sh.stopping = true;
  for (;;) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    auto now = steady::now();
    bool budget_spent = opt.count && sh.budget.load() <= 0;
    bool interrupted = opt.interrupt && opt.interrupt->load();
    if (!sh.stopping && (now >= measure_until || budget_spent || interrupted)) {
      sh.stopping = true;
      drain_deadline = now + std::chrono::seconds(interrupted ? 2 : 10);
      if (interrupted && now < measure_until) {
        // Measure what was sent until now, over the time it took.
        measure_until = std::max(now, measure_from);
        sh.measure_until = ns_of(measure_until);
      }
    }
    if (sh.stopping && (sh.outstanding.load() == 0 || now >= drain_deadline))
      break;
    if (now < next_tick)
      continue;
    next_tick += std::chrono::seconds(1);
    sh.matcher.expire(now, std::chrono::seconds(10));
    collect();
    if (!opt.progress)
      continue;
    std::string line = fmt::format("[{:>4.0f}s]", std::chrono::duration<double>(now - sh.start).count());
    for (size_t i = 0; i < s_count; ++i) {
      auto& s = total[i];
      if (s.requests == 0 && s.errors.empty())
        continue;
      uint64_t errors = 0;
      for (auto& [k, n] : s.errors)
        errors += n;
      fmt::format_to(std::back_inserter(line), " {} {}/s (total {}, errors {}, p99 {})", k_section_names[i],
                     s.requests - last_requests[i], s.requests, errors, format_duration(s.latency.percentile(99)));
      last_requests[i] = s.requests;
    }
    if (n_subs)
      fmt::format_to(std::back_inserter(line), " ws {} msg/s", ws_total - last_ws);
    last_ws = ws_total;
    if (now < measure_from)
      line += " (warm-up)";
    fmt::print(stderr, "{}\n", line);
  }

  // Close everything on its own thread, then let the threads go.
  for (size_t i = 0; i < conns.size(); ++i)
    asio::post(ctxs[i % n_threads]->ioc, [c = conns[i].get()] { c->close(); });
  for (size_t i = 0; i < subs.size(); ++i)
    asio::post(ctxs[i % n_threads]->ioc, [s = subs[i].get()] { s->close(); });
  for (auto& c : ctxs)
    asio::post(c->ioc, [ioc = &c->ioc] { ioc->stop(); });
  for (auto& t : threads)
    t.join();

  report r;
  r.workload = std::string(k_workloads[static_cast<size_t>(opt.kind)].name);
  r.url = opt.url;
  r.run_id = sh.run;
  r.connections = static_cast<unsigned>(conns.size());
  r.pipeline = opt.pipeline;
  r.target_rate = opt.rate;
  r.subscribers = n_subs;
  if (!subscribers_ready)
    r.ws_errors["subscribers not subscribed within 10 s"] = n_subs - sh.subscribed.load();
  verify_input vin;
  vin.run_id = sh.run;
  for (auto& c : ctxs) {
    for (size_t i = 0; i < s_count; ++i)
      total[i].merge(c->interval[i]);
    ws_total += c->ws_messages;
    r.unanswered += c->unanswered;
    for (auto& [k, n] : c->ws_errors)
      r.ws_errors[k] += n;
    vin.acks.insert(vin.acks.end(), c->acks.begin(), c->acks.end());
    vin.unknown.insert(vin.unknown.end(), c->unknown.begin(), c->unknown.end());
  }
  r.unanswered += static_cast<uint64_t>(std::max<int64_t>(0, sh.outstanding.load()));
  r.ws_messages = ws_total;
  for (size_t i = 0; i < s_count; ++i) {
    total[i].name = k_section_names[i];
    if (total[i].requests || !total[i].errors.empty())
      r.sections.push_back(std::move(total[i]));
  }
  if (opt.count) {
    auto last = std::max(sh.last_answer.load(), ns_of(measure_from) + 1);
    r.seconds = static_cast<double>(last - ns_of(measure_from)) / 1e9;
  } else {
    r.seconds = std::chrono::duration<double>(measure_until - measure_from).count();
  }
  if (sh.e2e) {
    r.e2e = true;
    sh.matcher.finish(r.e2e_latency, r.e2e_unmatched);
  }
  if (opt.verify)
    r.verify = verify_run(client, std::move(vin));
  return r;
}

} // namespace sluice::load
