// The WebSocket stream of SPEC §6 (/v1/stream), made from an upgraded HTTP
// connection. It names Beast's stream and request types, so only the front
// end's sources (server.cpp, stream_session.cpp) include it.
#pragma once

#include "engine/engine.h"
#include "http/auth.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include <chrono>

namespace sluice::http {

struct stream_limits {
  size_t max_message_bytes = 64 << 10;    ///< a client message
  size_t max_queued_bytes = 4 << 20;      ///< outgoing bytes before feeds stop being pulled
  std::chrono::seconds stall_timeout{30}; ///< a write that makes no progress this long: the client stopped reading
};

/// Who opened a stream (SPEC §11); `auth` null when auth is off.
struct stream_caller {
  std::shared_ptr<auth::authority> auth;
  std::shared_ptr<const auth::table> held; ///< keeps `who` alive
  const auth::principal* who = nullptr;
};

/// A TLS connection as the HTTP server holds it (SPEC §11: HTTPS and WSS on one port).
// Asio's stream rather than Beast's wrapper: with the wrapper, clang finds
// two equally good websocket teardowns (Boost 1.81).
using tls_stream =
    boost::asio::ssl::stream<boost::beast::basic_stream<boost::asio::ip::tcp, boost::asio::io_context::executor_type,
                                                        boost::beast::unlimited_rate_policy>>;

/// Takes over `stream` and answers the upgrade `req`.
void start_stream_session(boost::beast::tcp_stream&& stream,
                          boost::beast::http::request<boost::beast::http::string_body>&& req, engine::engine& e,
                          const stream_limits& l, stream_caller by = {});

/// The same over TLS.
void start_stream_session(tls_stream&& stream, boost::beast::http::request<boost::beast::http::string_body>&& req,
                          engine::engine& e, const stream_limits& l, stream_caller by = {});

} // namespace sluice::http
