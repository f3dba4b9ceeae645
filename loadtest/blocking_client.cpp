#include "blocking_client.h"

#include <chrono>

namespace sluice::load {

namespace http = boost::beast::http;

blocking_client::blocking_client(const boost::asio::ip::tcp::endpoint& ep, std::string host, std::string token)
    : ep_(ep), host_(std::move(host)), token_(std::move(token)), stream_(ioc_) {}

http_answer blocking_client::request(http::verb verb, const std::string& target, const std::string& body,
                                     const char* content_type) {
  // One retry on a fresh connection: the server may have closed an idle one.
  for (int attempt = 0;; ++attempt) {
    try {
      if (!connected_) {
        boost::beast::error_code ignored;
        stream_.socket().close(ignored);
        stream_.connect(ep_);
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
      http::write(stream_, req);
      http::response_parser<http::string_body> parser;
      parser.body_limit(1ull << 32);
      http::read(stream_, buffer_, parser);
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
