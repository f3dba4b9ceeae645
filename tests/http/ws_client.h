// A small blocking WebSocket client over Beast for the server tests.
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <catch2/catch.hpp>

#include <string>
#include <utility>
#include <vector>

namespace sluice::testing {

class ws_client {
 public:
  explicit ws_client(uint16_t port) : ws_client(port, "/v1/stream", {}) {}

  /// An upgrade to `target` with extra request headers; a refused upgrade
  /// throws (upgrade_status() tells what the server answered).
  ws_client(uint16_t port, const std::string& target, std::vector<std::pair<std::string, std::string>> headers)
      : ws_(ioc_) {
    boost::asio::ip::tcp::endpoint ep(boost::asio::ip::make_address("127.0.0.1"), port);
    boost::beast::get_lowest_layer(ws_).connect(ep);
    ws_.set_option(boost::beast::websocket::stream_base::decorator(
        [headers = std::move(headers)](boost::beast::websocket::request_type& req) {
          for (auto& [k, v] : headers)
            req.set(k, v);
        }));
    ws_.handshake(upgrade_, "localhost", target);
  }

  /// What the server answered to an upgrade `target` with `headers`: 101, or the refusal's status.
  static int upgrade_status(uint16_t port, const std::string& target,
                            std::vector<std::pair<std::string, std::string>> headers) {
    boost::asio::io_context ioc;
    boost::beast::websocket::stream<boost::beast::tcp_stream> ws(ioc);
    boost::asio::ip::tcp::endpoint ep(boost::asio::ip::make_address("127.0.0.1"), port);
    boost::beast::get_lowest_layer(ws).connect(ep);
    ws.set_option(boost::beast::websocket::stream_base::decorator(
        [headers = std::move(headers)](boost::beast::websocket::request_type& req) {
          for (auto& [k, v] : headers)
            req.set(k, v);
        }));
    boost::beast::websocket::response_type res;
    boost::beast::error_code ec;
    ws.handshake(res, "localhost", target, ec);
    return static_cast<int>(res.result_int());
  }

  /// Reads until the server closes; the close code it gave (1006 without a close frame).
  int await_close() {
    boost::beast::error_code ec;
    boost::beast::flat_buffer b;
    while (!ec)
      ws_.read(b, ec);
    return ec == boost::beast::websocket::error::closed ? static_cast<int>(ws_.reason().code) : 1006;
  }
  void send(const std::string& text) { ws_.write(boost::asio::buffer(text)); }
  /// Sends `text`, then reads until the server closes; the close code it gave
  /// (1006, "abnormal", when the connection ended without a close frame).
  int send_and_await_close(const std::string& text) {
    boost::beast::error_code ec;
    ws_.write(boost::asio::buffer(text), ec);
    boost::beast::flat_buffer b;
    while (!ec)
      ws_.read(b, ec);
    UNSCOPED_INFO("the client's read ended with: " << ec.message());
    return ec == boost::beast::websocket::error::closed ? static_cast<int>(ws_.reason().code) : 1006;
  }
  std::string receive() {
    boost::beast::flat_buffer b;
    ws_.read(b);
    return boost::beast::buffers_to_string(b.data());
  }

 private:
  boost::asio::io_context ioc_;
  boost::beast::websocket::stream<boost::beast::tcp_stream> ws_;
  boost::beast::websocket::response_type upgrade_;
};

} // namespace sluice::testing
