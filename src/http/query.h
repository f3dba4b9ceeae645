// Query strings and percent-encoding as clients send them (RFC 3986, and
// the form encoding browsers' URLSearchParams writes).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace sluice::http {

/// Decodes %XX escapes; "%41b" → "Ab". With `plus_is_space` (query strings
/// only: form encoding), '+' decodes to ' '; in a path it is itself.
/// nullopt on a '%' not followed by two hex digits.
std::optional<std::string> percent_decode(std::string_view s, bool plus_is_space = false);

/// A parsed query string: `a=1&b=x+y` → {a: "1", b: "x y"}. The first of
/// repeated names wins; empty parts are skipped. Not thread-safe to build,
/// read-only afterwards.
class query {
 public:
  /// Parses `q` (without the '?'); bad() if an escape is malformed.
  explicit query(std::string_view q);

  bool bad() const { return bad_; }

  /// The parameter's decoded value, or nullopt if absent.
  std::optional<std::string_view> get(std::string_view name) const;

  /// The unsigned parameter `name` in [lo, hi], `fallback` if absent;
  /// nullopt if it is not a decimal integer in range.
  std::optional<uint64_t> number(std::string_view name, uint64_t fallback, uint64_t lo, uint64_t hi) const;

 private:
  std::map<std::string, std::string, std::less<>> params_;
  bool bad_ = false;
};

} // namespace sluice::http
