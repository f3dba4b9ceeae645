// The WebSocket stream of SPEC §6 (/v1/stream), made from an upgraded HTTP
// connection. It names Beast's stream and request types, so only the front
// end's sources (http_session.cpp, stream_session.cpp) include it; its
// limits are in http/stream_limits.h.
#pragma once

#include "engine/engine.h"
#include "http/auth.h"
#include "http/stream_limits.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include <chrono>

namespace sluice::http {

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
