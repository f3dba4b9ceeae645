#include "http/http_session.h"

#include "http/prometheus.h"
#include "http/server.h"
#include "http/stream_session.h"

#include <boost/asio/dispatch.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <fmt/format.h>

#include <deque>

namespace sluice::http {

namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = net::ip::tcp;
// The I/O thread's own executor type, not any_io_executor: no type-erased
// executor copied and destroyed in every asynchronous step.
using executor = net::io_context::executor_type;
using http_stream = beast::basic_stream<tcp, executor, beast::unlimited_rate_policy>;

constexpr auto k_write_timeout = std::chrono::seconds(30);
constexpr size_t k_max_coalesced = 256 << 10; ///< bytes of answers gathered into one write
constexpr size_t k_read_size = 16 << 10;      ///< a request's first read

constexpr bool is_tls(const http_stream*) { return false; }
constexpr bool is_tls(const tls_stream*) { return true; }

// The grant a route's `needs` asks for that `r` lacks; empty: none lacking.
std::string_view missing_grant(const auth::grants& r, access needs) {
  std::string_view missing;
  switch (needs) {
    case access::open:
    case access::token:
    case access::views: break; // the handler knows the view
    case access::commands:
      if (!r.any_commands())
        missing = "commands:";
      break;
    case access::events:
      if (!r.events)
        missing = "events";
      break;
    case access::metrics:
      if (!r.metrics)
        missing = "metrics";
      break;
    case access::admin:
      if (!r.admin)
        missing = "admin";
      break;
  }
  return missing;
}

// One connection: reads requests (up to `pipeline_depth` ahead of their
// answers), routes each, and writes the answers in request order: every
// answer ready at the front of the queue goes out in one write, so
// pipelined answers share a syscall. Everything runs on its I/O thread.
// `Stream` is http_stream, or tls_stream for HTTPS.
template <class Stream>
class session : public answer_sink, public std::enable_shared_from_this<session<Stream>> {
  static constexpr bool k_tls = is_tls(static_cast<const Stream*>(nullptr));

 public:
  template <class... Args>
  session(io_worker& home, engine::engine& e, const server_options& o, Args&&... stream)
      : stream_(std::forward<Args>(stream)...),
        home_(home),
        engine_(e),
        opts_(o),
        limits_(o.limits),
        stream_limits_(o.stream),
        budget_(home.budget) {}

  ~session() override {
    budget_.give(reserved_);
    for (auto& s : queue_)
      budget_.give(s.reserved);
  }

  void run() {
    if constexpr (k_tls) {
      // The handshake has the head's deadline: a client that connects and
      // says nothing, or speaks plain HTTP, is closed.
      lowest().expires_after(std::chrono::seconds(std::min(limits_.header_seconds, limits_.idle_seconds)));
      stream_.async_handshake(boost::asio::ssl::stream_base::server,
                              [self = this->shared_from_this()](beast::error_code ec) {
                                if (ec)
                                  return self->lowest().close();
                                self->do_read();
                              });
    } else {
      net::dispatch(stream_.get_executor(), beast::bind_front_handler(&session::do_read, this->shared_from_this()));
    }
  }

  void answered(size_t seq, reply r) override {
    auto& s = queue_[seq - answered_base_];
    budget_.give(std::exchange(s.reserved, 0)); // the body and its commands are gone
    fill(s, std::move(r));
    do_write();
  }

 private:
  struct slot {
    bool ready = false;
    unsigned version = 11;
    bool keep_alive = true;
    bool head = false;            ///< a HEAD request: the answer's headers only
    size_t reserved = 0;          ///< bytes of body_budget held until the answer
    std::string_view cors_origin; ///< Access-Control-Allow-Origin, from opts_; empty: none
    reply r;
  };

  // The answer as HTTP/1.x text: the few headers sluice sends, no
  // serializer and no header map per answer.
  static void append_response(std::string& out, const slot& s) {
    count_http_response(s.r.status);
    auto status = static_cast<bhttp::status>(s.r.status);
    fmt::format_to(std::back_inserter(out), "HTTP/1.{} {} {}\r\nServer: sluice\r\n", s.version == 10 ? 0 : 1,
                   s.r.status, std::string_view(bhttp::obsolete_reason(status)));
    if (s.r.status != 204) // RFC 9110 §8.6: no Content-Length on a 204
      fmt::format_to(std::back_inserter(out), "Content-Type: {}\r\nContent-Length: {}\r\n", s.r.content_type,
                     s.r.body.size());
    for (auto& [k, v] : s.r.headers)
      fmt::format_to(std::back_inserter(out), "{}: {}\r\n", k, v);
    if (!s.cors_origin.empty())
      fmt::format_to(std::back_inserter(out),
                     "Access-Control-Allow-Origin: {}\r\nVary: Origin\r\n"
                     "Access-Control-Expose-Headers: Retry-After, Sluice-History-Truncated\r\n",
                     s.cors_origin);
    if (!s.keep_alive && s.version != 10)
      out += "Connection: close\r\n";
    else if (s.keep_alive && s.version == 10)
      out += "Connection: keep-alive\r\n";
    out += "\r\n";
    if (!s.head) // RFC 9110 §9.3.2: the length a GET would have, no body
      out += s.r.body;
  }

  void do_read() {
    if (reading_ || closing_ || queue_.size() >= limits_.pipeline_depth)
      return; // reading resumes when an answer is written
    reading_ = true;
    if (buffer_.size() == 0) {
      // Idle until a request's first byte: the keep-alive timeout.
      lowest().expires_after(std::chrono::seconds(limits_.idle_seconds));
      // read_size: the buffer's own capacity, so an idle connection holds
      // what its largest request needed, a new one 512 bytes.
      stream_.async_read_some(buffer_.prepare(beast::read_size(buffer_, k_read_size)),
                              beast::bind_front_handler(&session::on_first_bytes, this->shared_from_this()));
      return;
    }
    read_head();
  }

  void on_first_bytes(beast::error_code ec, size_t n) {
    if (ec) {
      reading_ = false;
      return on_read_error(ec);
    }
    buffer_.commit(n);
    read_head();
  }

  // From its first byte a request's head has header_seconds to arrive,
  // however slowly it drips (slowloris).
  void read_head() {
    parser_.emplace(); // a fresh parser per request
    parser_->header_limit(static_cast<uint32_t>(limits_.header_bytes));
    // None while the head is read: on_header sets the route's, so that the
    // answer to a large body depends on its route (404, 405, 413).
    parser_->body_limit(boost::none);
    lowest().expires_after(std::chrono::seconds(std::min(limits_.header_seconds, limits_.idle_seconds)));
    bhttp::async_read_header(stream_, buffer_, *parser_,
                             beast::bind_front_handler(&session::on_header, this->shared_from_this()));
  }

  void on_header(beast::error_code ec, size_t) {
    if (ec)
      return on_read_error(ec);
    auto& req = parser_->get();
    auto target = req.target();
    auto where = resolve(req.method_string(), target.substr(0, target.find('?')));
    auto length = parser_->content_length();
    bool has_body = parser_->chunked() || (length && *length > 0);
    if (req.version() >= 11 && req.find(bhttp::field::host) == req.end())
      return answer_early(error_reply(400, "bad_request", "an HTTP/1.1 request needs a Host header"));
    origin_ = allowed_origin(req);
    // Preflights and denials are answered before routing (SPEC §11).
    early_.reset();
    if (req.method() == bhttp::verb::options && req.find(bhttp::field::origin) != req.end())
      early_ = preflight();
    else
      early_ = admit(req, where, target);
    // The route decides, before any body is read: a path that does not
    // exist or a method it does not allow is answered as such, not as 413.
    // A small body is read and dropped, so the connection stays usable.
    auto limit = early_ ? 0 : body_limit(where, limits_);
    if ((early_ || where.result != resolution::kind::found) && has_body) {
      if (length && *length <= limits_.command_body_bytes)
        limit = static_cast<size_t>(*length);
      else
        return answer_early(early_ ? std::move(*early_)
                            : where.result == resolution::kind::not_found
                                ? no_such_path(target.substr(0, target.find('?')))
                                : method_not_allowed(where.allow));
    }
    // Beast compares Content-Length with the limit while parsing the header,
    // before the route is known; compare again with the route's own limit.
    if (length && *length > limit)
      return answer_early(limit == 0 ? error_reply(413, "too_large", "this endpoint takes no request body")
                                     : error_reply(413, "too_large", "request body is too large"));
    size_t want = has_body ? (length ? static_cast<size_t>(*length) : limit) : 0;
    if (!budget_.take(want)) {
      auto r = error_reply(503, "overloaded", "too many request bodies are held at once; retry later");
      r.headers.emplace_back("Retry-After", "1");
      return answer_early(std::move(r));
    }
    reserved_ = want;
    known_ = where.matched;     // null: the request gets its 404 or 405 from route()
    parser_->body_limit(limit); // still enforced for chunked bodies
    bhttp::async_read(stream_, buffer_, *parser_,
                      beast::bind_front_handler(&session::on_read, this->shared_from_this()));
  }

  // Answers the request whose head was just read without reading its body,
  // then closes: the body's bytes are still on the wire.
  void answer_early(reply r) {
    reading_ = false;
    closing_ = true;
    auto& s = queue_.emplace_back();
    s.version = parser_->get().version();
    s.head = parser_->get().method() == bhttp::verb::head;
    s.keep_alive = false;
    fill(s, std::move(r));
    do_write();
  }

  void on_read(beast::error_code ec, size_t) {
    reading_ = false;
    if (ec)
      return on_read_error(ec);
    auto req = parser_->release();
    if (!early_ && beast::websocket::is_upgrade(req) && stream_path(req.target()) && queue_.empty()) {
      // The connection becomes a stream session; this session ends here.
      if constexpr (k_tls)
        start_stream_session(std::move(stream_), std::move(req), engine_, stream_limits_, std::move(stream_by_));
      else
        start_stream_session(beast::tcp_stream(tcp::socket(stream_.release_socket())), std::move(req), engine_,
                             stream_limits_, std::move(stream_by_));
      return;
    }
    auto& s = queue_.emplace_back();
    s.version = req.version();
    s.keep_alive = req.keep_alive();
    s.head = req.method() == bhttp::verb::head;
    s.reserved = std::exchange(reserved_, 0);
    s.cors_origin = origin_;
    if (early_) {
      budget_.give(std::exchange(s.reserved, 0));
      fill(s, std::move(*early_));
      early_.reset();
      if (!req.keep_alive())
        closing_ = true;
      do_write();
      return do_read();
    }
    size_t seq = answered_base_ + queue_.size() - 1;
    if (!req.keep_alive())
      closing_ = true; // answer what was read, then close
    auto answer = [self = this->shared_from_this(), seq](reply r) mutable {
      auto& home = self->home_;
      home.deliver({std::move(self), seq, std::move(r)});
    };
    if (known_)
      route(engine_, limits_, *known_, req.target(), std::move(req.body()), std::move(answer), by_);
    else
      route(engine_, limits_, req.method_string(), req.target(), std::move(req.body()), std::move(answer), by_);
    do_read();
  }

  static bool stream_path(std::string_view target) { return target.substr(0, target.find('?')) == "/v1/stream"; }

  // The Access-Control-Allow-Origin a request from its Origin gets: "*",
  // the listed origin itself, or nothing.
  std::string_view allowed_origin(const bhttp::request<bhttp::string_body>& req) const {
    auto h = req.find(bhttp::field::origin);
    if (h == req.end())
      return {};
    for (auto& o : opts_.cors_origins)
      if (o == "*" || o == h->value())
        return o;
    return {};
  }

  // A CORS preflight: 204 with what a listed origin may send, 403 otherwise.
  reply preflight() const {
    if (origin_.empty())
      return error_reply(403, "forbidden", "this origin is not allowed (--cors-origin)");
    reply r{204, "application/json", {}, {}};
    r.headers.emplace_back("Access-Control-Allow-Methods", "GET, HEAD, POST, OPTIONS");
    r.headers.emplace_back("Access-Control-Allow-Headers", "Authorization, Content-Type");
    r.headers.emplace_back("Access-Control-Max-Age", "600");
    return r;
  }

  // The check before routing (SPEC §11): a denial to answer, or nothing.
  // Sets by_ (and stream_by_ for an upgrade) for the handlers' own checks.
  std::optional<reply> admit(const bhttp::request<bhttp::string_body>& req, const resolution& where,
                             std::string_view target) {
    by_ = {};
    stream_by_ = {};
    bool upgrade = beast::websocket::is_upgrade(req) && stream_path(target);
    if (upgrade && !opts_.cors_origins.empty() && req.find(bhttp::field::origin) != req.end() && origin_.empty())
      return error_reply(403, "forbidden", "this origin may not open a stream (--cors-origin)");
    auto* a = opts_.auth.get();
    if (!a || (!upgrade && where.result == resolution::kind::found && where.matched->needs == access::open))
      return std::nullopt;
    std::optional<std::string_view> token;
    if (auto h = req.find(bhttp::field::authorization); h != req.end())
      token = auth::bearer(h->value());
    std::optional<std::string> from_query;
    if (!token && upgrade && target.find('?') != std::string_view::npos) {
      query q(target.substr(target.find('?') + 1)); // browsers cannot set headers on a WebSocket
      if (auto t = q.get("access_token"))
        token = from_query.emplace(*t);
    }
    const auth::principal* who = token ? check_.check(*a, *token) : nullptr;
    if (!who) {
      a->count(auth::denial::unauthorized);
      return denied_reply(auth::denial::unauthorized,
                          token ? "unknown token" : "this server needs a token: Authorization: Bearer <token>");
    }
    by_ = {a, who};
    if (upgrade) {
      stream_by_ = {opts_.auth, check_.held(), who};
      return std::nullopt;
    }
    if (where.result != resolution::kind::found)
      return std::nullopt; // a known token learns that the path does not exist
    auto missing = missing_grant(who->rights, where.matched->needs);
    if (missing.empty())
      return std::nullopt;
    a->count(auth::denial::forbidden);
    return denied_reply(auth::denial::forbidden, fmt::format("this token has no {} grant", missing));
  }

  void fill(slot& s, reply&& r) {
    s.r = std::move(r);
    s.ready = true;
  }

  // A request that cannot be read gets one clear answer, then the connection closes.
  void on_read_error(beast::error_code ec) {
    reading_ = false;
    closing_ = true;
    budget_.give(std::exchange(reserved_, 0));
    if (ec == bhttp::error::end_of_stream || ec == net::error::eof || ec == beast::error::timeout ||
        ec == net::error::connection_reset || ec == net::error::operation_aborted) {
      if (queue_.empty())
        shutdown();
      return;
    }
    reply r = ec == bhttp::error::body_limit ? error_reply(413, "too_large", "request body is too large")
              : ec == bhttp::error::header_limit
                  ? error_reply(431, "too_large", "request headers are too large")
                  : error_reply(400, "bad_request", "malformed HTTP request: " + ec.message());
    auto& s = queue_.emplace_back();
    s.keep_alive = false;
    fill(s, std::move(r));
    do_write();
  }

  void do_write() {
    if (writing_ || queue_.empty() || !queue_.front().ready)
      return;
    writing_ = true;
    out_.clear();
    in_write_ = 0;
    keep_after_write_ = true;
    // Every ready answer at the front, up to the first that closes.
    for (auto& s : queue_) {
      if (!s.ready || out_.size() >= k_max_coalesced)
        break;
      append_response(out_, s);
      ++in_write_;
      if (!s.keep_alive) {
        keep_after_write_ = false;
        break;
      }
    }
    lowest().expires_after(k_write_timeout);
    net::async_write(stream_, net::buffer(out_),
                     beast::bind_front_handler(&session::on_write, this->shared_from_this()));
  }

  void on_write(beast::error_code ec, size_t) {
    writing_ = false;
    if (ec)
      return shutdown();
    queue_.erase(queue_.begin(), queue_.begin() + static_cast<ptrdiff_t>(in_write_));
    answered_base_ += in_write_;
    if (!keep_after_write_ || (closing_ && queue_.empty() && !reading_))
      return shutdown();
    do_write();
    do_read();
  }

  void shutdown() {
    if constexpr (k_tls) {
      // close_notify, bounded: a peer that never answers it is cut off.
      lowest().expires_after(std::chrono::seconds(5));
      stream_.async_shutdown([self = this->shared_from_this()](beast::error_code) { self->lowest().close(); });
    } else {
      beast::error_code ec;
      stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
      stream_.close();
    }
  }

  http_stream& lowest() { return beast::get_lowest_layer(stream_); }

  Stream stream_;
  io_worker& home_;
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  engine::engine& engine_;
  const server_options& opts_;
  const limits& limits_;
  const stream_limits& stream_limits_;
  auth::cached_check check_;   ///< this connection's last token
  caller by_;                  ///< who sent the request being read
  stream_caller stream_by_;    ///< the same for an upgrade
  std::string_view origin_;    ///< its CORS origin, from opts_
  std::optional<reply> early_; ///< its answer, decided before routing
  budget_share& budget_;
  size_t reserved_ = 0;             ///< of budget_, for the request being read
  const endpoint* known_ = nullptr; ///< what the request being read resolved to
  std::deque<slot> queue_;          ///< answers in request order
  size_t answered_base_ = 0;        ///< sequence number of queue_.front()
  std::string out_;                 ///< the answers being written
  size_t in_write_ = 0;             ///< how many of queue_ they are
  bool keep_after_write_ = true;
  bool reading_ = false, writing_ = false, closing_ = false;
};

} // namespace

void start_http_session(io_worker& home, engine::engine& e, const server_options& o, accepted_socket&& socket) {
  std::make_shared<session<http_stream>>(home, e, o, std::move(socket))->run();
}

void start_http_session(io_worker& home, engine::engine& e, const server_options& o, accepted_socket&& socket,
                        boost::asio::ssl::context& tls) {
  std::make_shared<session<tls_stream>>(home, e, o, std::move(socket), tls)->run();
}

} // namespace sluice::http
