// Decoding the JSON command envelope of SPEC §2 into a domain::command.
#pragma once

#include "domain/command.h"
#include "domain/errc.h"
#include "domain/registry.h"

#include <cstddef>
#include <expected>
#include <memory>
#include <string_view>

namespace sluice::domain {

/// Bytes that must be readable past the end of input handed to the
/// zero-copy decode() (simdjson's padding).
inline constexpr size_t k_json_padding = 64;

/// Validates and decodes commands. Holds a reusable parser: one decoder per
/// thread, not thread-safe. Every failure names the offending field.
///
///   bad_request      not JSON, invalid UTF-8, nested too deeply, not an object
///   invalid_command  a field missing, duplicated, of the wrong type or out of range
///   unknown_command  `type` names no registered command
class command_decoder {
 public:
  explicit command_decoder(const registry& types);
  ~command_decoder();
  command_decoder(const command_decoder&) = delete;
  command_decoder& operator=(const command_decoder&) = delete;

  /// Decodes `json`; copies it when it cannot prove the padding is there.
  std::expected<command, error> decode(std::string_view json);

  /// Decodes `size` bytes at `data` without copying; `capacity` (bytes
  /// readable at `data`) must be at least size + k_json_padding.
  std::expected<command, error> decode(const char* data, size_t size, size_t capacity);

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

/// True if `s` has no control characters (C0, DEL, C1). `s` is valid UTF-8.
bool free_of_control_chars(std::string_view s);

} // namespace sluice::domain
