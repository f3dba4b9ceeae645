// A blocking keep-alive HTTP/1.1 client (Beast) for the parts of a run that
// are not measured: creating aggregates and --verify.
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include <memory>
#include <optional>
#include <string>

namespace sluice::load {

struct http_answer {
  int status = 0;
  std::string body;
};

class blocking_client {
 public:
  /// `token`: a bearer token for every request, or empty; `tls`: speak HTTPS with it.
  blocking_client(const boost::asio::ip::tcp::endpoint& ep, std::string host, std::string token = {},
                  std::shared_ptr<boost::asio::ssl::context> tls = {});

  /// Throws boost::system::system_error when the connection fails.
  http_answer get(const std::string& target) { return request(boost::beast::http::verb::get, target, {}, {}); }
  http_answer post(const std::string& target, const std::string& body, const char* content_type) {
    return request(boost::beast::http::verb::post, target, body, content_type);
  }

 private:
  http_answer request(boost::beast::http::verb verb, const std::string& target, const std::string& body,
                      const char* content_type);

  boost::asio::io_context ioc_;
  boost::asio::ip::tcp::endpoint ep_;
  std::string host_;
  std::string token_;
  boost::beast::tcp_stream stream_;
  std::shared_ptr<boost::asio::ssl::context> tls_ctx_;
  std::optional<boost::beast::ssl_stream<boost::beast::tcp_stream>> tls_; ///< with tls_ctx_, one per connection
  boost::beast::flat_buffer buffer_;
  bool connected_ = false;
};

} // namespace sluice::load
