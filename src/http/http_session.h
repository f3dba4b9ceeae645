// The HTTP/1.1 connection (SPEC §5): reads pipelined requests, routes each
// (routes.h) and writes the answers in request order; an upgrade to
// /v1/stream becomes a stream session (stream_session.h). The session class
// and Beast stay in http_session.cpp; the listener only starts sessions.
#pragma once

#include "engine/engine.h"
#include "http/io_worker.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

namespace boost::asio::ssl {
class context;
} // namespace boost::asio::ssl

namespace sluice::http {

struct server_options;

/// An accepted connection, its socket bound to its I/O thread's io_context.
using accepted_socket = boost::asio::basic_stream_socket<boost::asio::ip::tcp, boost::asio::io_context::executor_type>;

/// Serves plain HTTP on `socket` until the connection closes. Called from
/// the acceptor's thread; the session runs on `home`'s thread and keeps
/// itself alive through its pending operations. `home`, `e` and `o` must
/// outlive it: the server stops every I/O thread before destroying them.
void start_http_session(io_worker& home, engine::engine& e, const server_options& o, accepted_socket&& socket);

/// The same over TLS (HTTPS, and WSS after an upgrade); `tls` must outlive
/// the session too.
void start_http_session(io_worker& home, engine::engine& e, const server_options& o, accepted_socket&& socket,
                        boost::asio::ssl::context& tls);

} // namespace sluice::http
