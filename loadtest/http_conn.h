// One keep-alive connection of the driver; internal to it.
#pragma once

#include "response_reader.h"
#include "run_state.h"

#include <charconv>
#include <deque>

namespace sluice::load::detail {

static_assert(simdjson::SIMDJSON_PADDING <= response_reader::k_padding);

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
    socket().close(ec);
  }

 private:
  struct pending {
    steady::time_point intended;
    uint32_t commands;
  };

  tcp::socket& socket() { return tls_ ? tls_->next_layer() : sock_; }

  // `f` on the stream requests and answers go through: the socket, or TLS over it.
  template <class F>
  void on_stream(F&& f) {
    if (tls_)
      f(*tls_);
    else
      f(sock_);
  }

  void connect() {
    if (sh_.tls)
      tls_ = std::make_unique<asio::ssl::stream<tcp::socket>>(ctx_.ioc, *sh_.tls);
    else
      sock_ = tcp::socket(ctx_.ioc);
    socket().async_connect(sh_.ep, [this, gen = ++gen_](error_code ec) {
      if (gen != gen_ || closed_)
        return;
      if (ec)
        return fail(ec.message());
      socket().set_option(tcp::no_delay(true), ec);
      if (!tls_)
        return connected();
      tls_->async_handshake(asio::ssl::stream_base::client, [this, gen](error_code e) {
        if (gen != gen_ || closed_)
          return;
        if (e)
          return fail("TLS: " + e.message());
        connected();
      });
    });
  }

  void connected() {
    connected_ = true;
    read();
    pump();
  }

  void pump() {
    if (closed_ || !connected_)
      return;
    auto now = steady::now();
    while (pending_.size() < sh_.opt.pipeline && !sh_.stopping.load(std::memory_order_relaxed)) {
      auto intended = now;
      if (interval_ns_ > 0) {
        intended =
            sh_.start + std::chrono::nanoseconds(static_cast<int64_t>(static_cast<double>(next_) * interval_ns_));
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
      fmt::format_to(o, "GET /v1/views/{}/{} HTTP/1.1\r\nHost: {}\r\n{}\r\n", view_of(d),
                     aggregate_id(sh_.run, d, sh_.keys(ctx_.rng)), sh_.host, sh_.auth_header);
    } else {
      body_.clear();
      n = kind_ == s_commands ? 1 : sh_.opt.batch_size;
      bool fresh = sh_.opt.kind == workload::create;
      uint32_t per_order = sh_.opt.items + 1;
      if (fresh) // whole orders only
        n = std::max(1u, n / per_order) * per_order;
      for (uint32_t i = 0; i < n; ++i) {
        if (i)
          body_.push_back('\n');
        auto c = next_command();
        if (fresh) {
          if (i % per_order == 0)
            ++orders_;
          append_fresh_order_json(body_, sh_.run, c, orders_, i % per_order);
        } else if (auto& t = sh_.opt.tmpl) {
          auto line = std::uniform_int_distribution<size_t>(0, t->sends() - 1)(ctx_.rng);
          t->append_send(body_, line, {sh_.run, c.key, c.conn, c.seq});
        } else {
          append_command_json(body_, sh_.run, c);
        }
        commands_.push_back(c);
      }
      fmt::format_to(o, "POST {} HTTP/1.1\r\nHost: {}\r\n{}Content-Type: {}\r\nContent-Length: {}\r\n\r\n",
                     kind_ == s_commands ? "/v1/commands" : "/v1/commands/batch", sh_.host, sh_.auth_header,
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
    auto done = [this, gen = gen_](error_code ec, size_t) {
      if (gen != gen_ || closed_)
        return;
      writing_ = false;
      if (ec)
        return fail(ec.message());
      flush();
    };
    on_stream([&](auto& s) { asio::async_write(s, asio::buffer(wbuf_), done); });
  }

  void read() {
    constexpr size_t k_read = size_t{64} * 1024;
    auto got = [this, gen = gen_](error_code ec, size_t n) {
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
    };
    on_stream([&](auto& s) { s.async_read_some(asio::buffer(reader_.prepare(k_read), k_read), got); });
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
    if (body.empty() || ctx_.parser.parse(body.data(), body.size(), false).get(doc) || doc["error"]["code"].get(code))
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
    socket().close(ec);
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
  std::unique_ptr<asio::ssl::stream<tcp::socket>> tls_; ///< https://: replaces sock_, one per connection attempt
  asio::steady_timer timer_;
  response_reader reader_;
  std::string out_, wbuf_, body_;
  std::deque<pending> pending_;
  std::deque<command> commands_; // of the requests in pending_, in order
  double interval_ns_ = 0;
  uint64_t next_ = 0; // open loop: index of the next intended send
  uint64_t seq_ = 0;
  uint64_t orders_ = 0; // `create`: new orders made on this connection
  uint64_t gen_ = 0;    // bumped on every reconnect; stale handlers see it
  bool connected_ = false;
  bool writing_ = false;
  bool armed_ = false;
  bool closed_ = false;
};

} // namespace sluice::load::detail
