// Why a command fails before it reaches the log (SPEC §5 error codes).
#pragma once

#include <string>
#include <string_view>

namespace sluice::domain {

enum class errc {
  bad_request,     ///< 400: not a JSON object, malformed JSON, invalid UTF-8, too deep
  invalid_command, ///< 400: a field is missing, of the wrong type or out of range
  unknown_command, ///< 400: `type` names no registered command
  rejected,        ///< 422: a business rule refused it
};

/// The `error.code` string of the API.
constexpr std::string_view to_string(errc e) {
  switch (e) {
    case errc::bad_request: return "bad_request";
    case errc::invalid_command: return "invalid_command";
    case errc::unknown_command: return "unknown_command";
    case errc::rejected: return "rejected";
  }
  return "internal";
}

/// The HTTP status the API answers with.
constexpr int http_status(errc e) { return e == errc::rejected ? 422 : 400; }

struct error {
  errc code;
  std::string message;
};

} // namespace sluice::domain
