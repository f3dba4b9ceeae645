// The transfers workload's one WebSocket subscriber: every key of
// transfer_status, to see each of the run's transfers end.
#include "transfers_run.h"

#include <boost/beast/core.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <fmt/format.h>
#include <simdjson.h>

#include <exception>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>

namespace sluice::load::detail {

namespace beast = boost::beast;
namespace websocket = beast::websocket;

void transfers_run::on_message(std::string_view text, simdjson::dom::parser& parser) {
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

void transfers_run::note_error(std::string what) {
  std::lock_guard lk(mu_);
  if (sub_error_.empty() && !closing_)
    sub_error_ = std::move(what);
  cv_.notify_all();
}

template <class Stream>
void transfers_run::read_stream(Stream& ws) {
  if (!opt_.token.empty())
    ws.set_option(websocket::stream_base::decorator([token = opt_.token](websocket::request_type& req) {
      req.set(beast::http::field::authorization, "Bearer " + token);
    }));
  ws.handshake(target_.host, "/v1/stream");
  ws.text(true);
  ws.write(boost::asio::buffer(std::string_view(R"({"op":"subscribe","id":"t","view":"transfer_status","key":"*"})")));
  simdjson::dom::parser parser;
  beast::flat_buffer buf;
  for (;;) {
    ws.read(buf);
    auto data = buf.cdata();
    on_message(std::string_view(static_cast<const char*>(data.data()), data.size()), parser);
    buf.consume(buf.size());
  }
}

void transfers_run::subscribe() {
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

void transfers_run::close_subscriber() {
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

} // namespace sluice::load::detail
