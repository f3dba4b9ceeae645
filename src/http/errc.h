// Errors of the HTTP front end's start (server::start).
#pragma once

#include <string>
#include <string_view>

namespace sluice::http {

enum class errc {
  bad_address, ///< the listen address is not an IP address (or "localhost")
  bind,        ///< the address cannot be bound (in use, not local, no permission)
  listen,      ///< opening or listening on the socket failed
  tls,         ///< the certificate or key cannot be used
};

constexpr std::string_view to_string(errc e) {
  switch (e) {
    case errc::bad_address: return "bad_address";
    case errc::bind: return "bind";
    case errc::listen: return "listen";
    case errc::tls: return "tls";
  }
  return "?";
}

struct error {
  errc code;
  std::string message;
};

} // namespace sluice::http
