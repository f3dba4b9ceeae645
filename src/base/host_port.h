// "host:port" as flags and URLs spell it, IPv6 literals in brackets
// (RFC 3986 §3.2.2: "[::1]:8080").
#pragma once

#include <charconv>
#include <cstdint>
#include <expected>
#include <string>
#include <string_view>

namespace sluice {

struct host_port {
  std::string host; ///< without brackets: "::1", "127.0.0.1", "localhost"
  uint16_t port = 0;
};

/// Splits `s`; `default_port` when there is no ":port" (0: the port is
/// required). The error says what is wrong with `s`.
inline std::expected<host_port, std::string> parse_host_port(std::string_view s, uint16_t default_port = 0) {
  host_port out;
  std::string_view rest;
  if (s.starts_with('[')) {
    auto close = s.find(']');
    if (close == std::string_view::npos)
      return std::unexpected("'" + std::string(s) + "': an IPv6 address needs its closing ']'");
    out.host = s.substr(1, close - 1);
    rest = s.substr(close + 1);
    if (!rest.empty() && !rest.starts_with(':'))
      return std::unexpected("'" + std::string(s) + "': expected ':port' after ']'");
  } else {
    auto colon = s.rfind(':');
    if (colon != std::string_view::npos && s.find(':') != colon)
      return std::unexpected("'" + std::string(s) + "': write an IPv6 address in brackets, e.g. [::1]:8080");
    out.host = s.substr(0, colon);
    rest = colon == std::string_view::npos ? std::string_view{} : s.substr(colon);
  }
  if (out.host.empty())
    return std::unexpected("'" + std::string(s) + "': no host");
  if (rest.empty()) {
    if (default_port == 0)
      return std::unexpected("'" + std::string(s) + "': wants host:port");
    out.port = default_port;
    return out;
  }
  auto digits = rest.substr(1);
  unsigned port = 0;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), port);
  if (digits.empty() || ec != std::errc() || end != digits.data() + digits.size() || port > 65535)
    return std::unexpected("'" + std::string(s) + "': bad port");
  out.port = static_cast<uint16_t>(port);
  return out;
}

/// Whether `host` names this machine only: localhost, ::1, 127.0.0.0/8.
inline bool is_loopback(std::string_view host) {
  if (host == "localhost" || host == "::1")
    return true;
  if (!host.starts_with("127."))
    return false;
  int parts = 0;
  for (std::string_view rest = host; !rest.empty(); ++parts) {
    auto dot = rest.find('.');
    auto part = rest.substr(0, dot);
    unsigned v = 0;
    auto [end, ec] = std::from_chars(part.data(), part.data() + part.size(), v);
    if (part.empty() || ec != std::errc() || end != part.data() + part.size() || v > 255)
      return false;
    rest = dot == std::string_view::npos ? std::string_view{} : rest.substr(dot + 1);
    if (dot != std::string_view::npos && rest.empty())
      return false;
  }
  return parts == 4;
}

} // namespace sluice
