// TLS for the HTTP server (SPEC §11: HTTPS and WSS on one port): setting up
// the server's context from PEM files. OpenSSL stays in tls.cpp; the
// context is only named here.
#pragma once

#include "http/errc.h"

#include <expected>
#include <string>

namespace boost::asio::ssl {
class context;
} // namespace boost::asio::ssl

namespace sluice::http {

/// Sets `ctx` up for serving: TLS 1.2 or later, no renegotiation, no
/// compression, the certificate chain in `cert` and the private key in
/// `key`. Errors: errc::tls, naming the file and OpenSSL's reason, or that
/// the key does not match the certificate. Called from the controlling
/// thread (server::start) before any connection uses `ctx`.
std::expected<void, error> load_tls(boost::asio::ssl::context& ctx, const std::string& cert, const std::string& key);

} // namespace sluice::http
