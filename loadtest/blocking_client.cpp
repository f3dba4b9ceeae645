#include "blocking_client.h"

#include <chrono>

namespace sluice::load {

namespace http = boost::beast::http;

blocking_client::blocking_client(const boost::asio::ip::tcp::endpoint& ep, std::string host, std::string token,
                                 std::shared_ptr<boost::asio::ssl::context> tls)
    : ep_(ep), host_(std::move(host)), token_(std::move(token)), stream_(ioc_), tls_ctx_(std::move(tls)) {}

http_answer blocking_client::request(http::verb verb, const std::string& target, const std::string& body,
                                     const char* content_type) {
  // One retry on a fresh connection: the server may have closed an idle one.
  for (int attempt = 0;; ++attempt) {
    try {
      if (!connected_) {
        boost::beast::error_code ignored;
        if (tls_ctx_) {
          tls_.reset();
          tls_.emplace(ioc_, *tls_ctx_);
          boost::beast::get_lowest_layer(*tls_).connect(ep_);
          tls_->handshake(boost::asio::ssl::stream_base::client);
        } else {
          stream_.socket().close(ignored);
          stream_.connect(ep_);
        }
        buffer_.clear();
        connected_ = true;
      }
      http::request<http::string_body> req{verb, target, 11};
      req.set(http::field::host, host_);
      if (!token_.empty())
        req.set(http::field::authorization, "Bearer " + token_);
      if (content_type) {
        req.set(http::field::content_type, content_type);
        req.body() = body;
      }
      req.prepare_payload();
      http::response_parser<http::string_body> parser;
      parser.body_limit(1ull << 32);
      if (tls_) {
        http::write(*tls_, req);
        http::read(*tls_, buffer_, parser);
      } else {
        http::write(stream_, req);
        http::read(stream_, buffer_, parser);
      }
      auto& res = parser.get();
      if (!res.keep_alive())
        connected_ = false;
      return {static_cast<int>(res.result_int()), std::move(res.body())};
    } catch (const boost::system::system_error&) {
      connected_ = false;
      if (attempt > 0)
        throw;
    }
  }
}

} // namespace sluice::load
