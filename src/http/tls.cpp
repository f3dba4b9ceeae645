#include "http/tls.h"

#include <boost/asio/ssl/context.hpp>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <fmt/format.h>

namespace sluice::http {

namespace {

// OpenSSL's own words for why the last call failed.
std::string openssl_error() {
  unsigned long e = ERR_get_error();
  if (e == 0)
    return "unknown error";
  char text[256];
  ERR_error_string_n(e, text, sizeof text);
  ERR_clear_error();
  return text;
}

} // namespace

std::expected<void, error> load_tls(boost::asio::ssl::context& ctx, const std::string& cert, const std::string& key) {
  auto* native = ctx.native_handle();
  // TLS 1.2 or later only (SPEC §11); no renegotiation, no compression.
  SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION);
  SSL_CTX_set_options(native, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  ERR_clear_error();
  if (SSL_CTX_use_certificate_chain_file(native, cert.c_str()) != 1)
    return std::unexpected(error{errc::tls, fmt::format("--tls-cert {}: {}", cert, openssl_error())});
  if (SSL_CTX_use_PrivateKey_file(native, key.c_str(), SSL_FILETYPE_PEM) != 1) {
    auto why = openssl_error();
    if (why.find("key values mismatch") != std::string::npos)
      return std::unexpected(
          error{errc::tls, fmt::format("--tls-key {} does not match the certificate in {}", key, cert)});
    return std::unexpected(error{errc::tls, fmt::format("--tls-key {}: {}", key, why)});
  }
  if (SSL_CTX_check_private_key(native) != 1)
    return std::unexpected(error{
        errc::tls, fmt::format("--tls-key {} does not match the certificate in {}: {}", key, cert, openssl_error())});
  return {};
}

} // namespace sluice::http
