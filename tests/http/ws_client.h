// A small blocking WebSocket client over Beast for the server tests.
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <catch2/catch.hpp>

#include <string>

namespace sluice::testing {

class ws_client {
 public:
  explicit ws_client(uint16_t port) : ws_(ioc_) {
    boost::asio::ip::tcp::endpoint ep(boost::asio::ip::make_address("127.0.0.1"), port);
    boost::beast::get_lowest_layer(ws_).connect(ep);
    ws_.handshake("localhost", "/v1/stream");
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
};

} // namespace sluice::testing
