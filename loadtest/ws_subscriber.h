// One WebSocket subscriber of the driver; internal to it.
#pragma once

#include "run_state.h"

#include <boost/asio/ssl.hpp>
#include <boost/beast/websocket/ssl.hpp>

#include <type_traits>

namespace sluice::load::detail {

class ws_sub {
 public:
  virtual ~ws_sub() = default;
  virtual void start() = 0;
  virtual void close() = 0;
};

/// A WebSocket subscriber to every key of the run's views, over a plain
/// TCP stream or TLS (`Next`).
template <class Next>
class ws_sub_over final : public ws_sub {
 public:
  template <class... Tls>
  ws_sub_over(shared_state& sh, thread_ctx& ctx, Tls&... tls) : sh_(sh), ctx_(ctx), ws_(ctx.ioc, tls...) {
    if (sh.opt.accounts_weight)
      subs_.push_back(R"({"op":"subscribe","id":"a","view":"account_balance","key":"*"})");
    if (sh.opt.orders_weight)
      subs_.push_back(R"({"op":"subscribe","id":"o","view":"order_summary","key":"*"})");
  }

  void start() override {
    beast::get_lowest_layer(ws_).async_connect(sh_.ep, [this](error_code ec) {
      if (ec)
        return fail(ec);
      if constexpr (!std::is_same_v<Next, beast::tcp_stream>) {
        ws_.next_layer().async_handshake(asio::ssl::stream_base::client, [this](error_code e) {
          if (e)
            return fail(e);
          upgrade();
        });
      } else {
        upgrade();
      }
    });
  }

 private:
  void upgrade() {
    if (!sh_.opt.token.empty())
      ws_.set_option(websocket::stream_base::decorator([token = sh_.opt.token](websocket::request_type& req) {
        req.set(beast::http::field::authorization, "Bearer " + token);
      }));
    ws_.async_handshake(sh_.host, "/v1/stream", [this](error_code e) {
      if (e)
        return fail(e);
      ws_.text(true);
      write_next();
    });
  }

 public:
  void close() override {
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
  websocket::stream<Next> ws_;
  beast::flat_buffer buf_;
  std::vector<std::string> subs_;
  size_t next_ = 0;
  size_t acked_ = 0;
  bool closed_ = false;
};

} // namespace sluice::load::detail
