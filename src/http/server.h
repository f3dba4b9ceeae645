// The HTTP/1.1 server: a listener and one session per connection over the
// engine. Beast stays inside the sources of src/http; this header has none.
#pragma once

#include "engine/engine.h"
#include "http/auth.h"
#include "http/errc.h"
#include "http/routes.h"
#include "http/stream_limits.h"

#include <cstdint>
#include <expected>
#include <memory>
#include <string>

namespace sluice::http {

struct server_options {
  std::string address = "127.0.0.1";
  uint16_t port = 8080; ///< 0: any free port (see server::port())
  unsigned io_threads = 2;
  http::limits limits;
  stream_limits stream;
  std::shared_ptr<auth::authority> auth; ///< null: nothing is checked (SPEC §11)
  std::vector<std::string> cors_origins; ///< origins a browser may call from; "*" for any
  std::string tls_cert, tls_key;         ///< PEM files: HTTPS and WSS on the same port; empty: plain
};

/// start() and stop() from one controlling thread; the rest is internal.
class server {
 public:
  server(engine::engine& e, server_options o);
  ~server();
  server(const server&) = delete;
  server& operator=(const server&) = delete;

  /// Binds, listens and starts the I/O threads. Errors: errc::bad_address,
  /// errc::bind, errc::listen, each with a message naming the address;
  /// errc::tls for a certificate or key that cannot be loaded.
  std::expected<void, error> start();

  /// The port listened on.
  uint16_t port() const;

  /// Stops accepting connections; sessions go on until stop().
  void stop_accepting();

  /// Closes every connection and joins the I/O threads. Idempotent.
  void stop();

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

} // namespace sluice::http
