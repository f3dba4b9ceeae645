// A small, allocation-friendly JSON text writer for API answers.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace sluice::codec {

/// Appends JSON text to a caller-owned string. Commas are placed
/// automatically; the caller keeps keys and values balanced.
/// Strings must be valid UTF-8 (everything sluice stores was validated on
/// input); quotes, backslashes and control characters are escaped.
/// Not thread-safe; cheap to construct.
class json_writer {
 public:
  explicit json_writer(std::string& out) : out_(out) {}

  json_writer& begin_object();
  json_writer& end_object();
  json_writer& begin_array();
  json_writer& end_array();
  json_writer& key(std::string_view k);
  json_writer& string(std::string_view v);
  json_writer& integer(int64_t v);
  json_writer& uinteger(uint64_t v);
  json_writer& money(int64_t cents);
  json_writer& boolean(bool v);
  json_writer& null();
  /// Inserts `json` verbatim as one value; it must already be valid JSON.
  json_writer& raw(std::string_view json);

  std::string& out() { return out_; }

 private:
  void separate() {
    if (need_comma_)
      out_.push_back(',');
  }

  std::string& out_;
  bool need_comma_ = false;
};

/// Appends `v` as a quoted, escaped JSON string.
void append_json_string(std::string& out, std::string_view v);

} // namespace sluice::codec
