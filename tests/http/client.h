// A small blocking HTTP/1.1 client over Beast for the server tests.
#pragma once

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <chrono>
#include <simdjson.h>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sluice::testing {

struct http_response {
  int status = 0;
  std::string body;
  std::string content_type;
  std::string allow;
  std::string retry_after;
  bool keep_alive = true;
  std::string history_truncated;                           // Sluice-History-Truncated
  std::vector<std::pair<std::string, std::string>> fields; // every header, as sent

  /// The first header named `name` (case-insensitive), "" if none.
  std::string header(std::string_view name) const {
    for (auto& [k, v] : fields)
      if (boost::beast::iequals(k, name))
        return v;
    return "";
  }
};

/// A field of a JSON message, as text: a string's value, anything else minified; "" if absent.
inline std::string json_field(const std::string& json, const char* key) {
  simdjson::dom::parser p;
  auto v = p.parse(json)[key];
  if (v.error())
    return "";
  if (v.is_string())
    return std::string(v.get_string().value());
  return simdjson::minify(v.value());
}

/// The lines of an NDJSON body (a last line without its newline too).
inline std::vector<std::string> ndjson_lines(const std::string& body) {
  std::vector<std::string> out;
  for (size_t start = 0; start < body.size();) {
    auto end = body.find('\n', start);
    out.push_back(body.substr(start, end - start));
    start = end == std::string::npos ? body.size() : end + 1;
  }
  return out;
}

class http_client {
 public:
  explicit http_client(uint16_t port) : stream_(ioc_) {
    boost::asio::ip::tcp::endpoint ep(boost::asio::ip::make_address("127.0.0.1"), port);
    stream_.connect(ep);
  }

  http_response request(const std::string& method, const std::string& target, const std::string& body = {},
                        const std::string& content_type = "application/json") {
    send(method, target, body, content_type);
    return receive();
  }

  /// A header every later request carries (e.g. Authorization); an empty value removes it.
  void set_header(const std::string& name, const std::string& value) {
    std::erase_if(headers_, [&](auto& h) { return boost::beast::iequals(h.first, name); });
    if (!value.empty())
      headers_.emplace_back(name, value);
  }

  void send(const std::string& method, const std::string& target, const std::string& body = {},
            const std::string& content_type = "application/json") {
    namespace http = boost::beast::http;
    http::request<http::string_body> req{http::string_to_verb(method), target, 11};
    req.set(http::field::host, "localhost");
    for (auto& [k, v] : headers_)
      req.set(k, v);
    if (!body.empty()) {
      req.set(http::field::content_type, content_type);
      req.body() = body;
    }
    req.prepare_payload();
    http::write(stream_, req);
  }

  http_response receive() {
    namespace http = boost::beast::http;
    http::response_parser<http::string_body> parser;
    parser.body_limit(256 << 20);
    http::read(stream_, buffer_, parser);
    auto& res = parser.get();
    http_response out{static_cast<int>(res.result_int()),
                      res.body(),
                      std::string(res[http::field::content_type]),
                      std::string(res[http::field::allow]),
                      std::string(res["Retry-After"]),
                      res.keep_alive(),
                      std::string(res["Sluice-History-Truncated"]),
                      {}};
    for (auto& f : res)
      out.fields.emplace_back(std::string(f.name_string()), std::string(f.value()));
    return out;
  }

  /// Raw bytes, for hostile input.
  void write_raw(const std::string& bytes) { boost::asio::write(stream_, boost::asio::buffer(bytes)); }

  /// Everything the server sends until it closes the connection or
  /// `quiet` passes without a byte.
  std::string read_raw(std::chrono::milliseconds quiet = std::chrono::milliseconds(500)) {
    std::string out;
    char buf[4096];
    for (;;) {
      // Asynchronous: a tcp_stream's timeout applies to those only.
      stream_.expires_after(quiet);
      boost::beast::error_code ec;
      size_t n = 0;
      stream_.async_read_some(boost::asio::buffer(buf), [&](boost::beast::error_code e, size_t got) {
        ec = e;
        n = got;
      });
      ioc_.restart();
      ioc_.run();
      out.append(buf, n);
      if (ec)
        break;
    }
    stream_.expires_never();
    return out;
  }

  /// True once the server closed the connection (reads EOF).
  bool closed_by_peer() {
    boost::beast::error_code ec;
    char c;
    stream_.socket().read_some(boost::asio::buffer(&c, 1), ec);
    return ec == boost::asio::error::eof || ec == boost::asio::error::connection_reset;
  }

 private:
  boost::asio::io_context ioc_;
  boost::beast::tcp_stream stream_;
  boost::beast::flat_buffer buffer_;
  std::vector<std::pair<std::string, std::string>> headers_;
};

} // namespace sluice::testing
