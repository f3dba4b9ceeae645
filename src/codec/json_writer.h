// A small, fast JSON text writer for API answers and stream messages.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace sluice::codec {

/// Appends JSON text to a caller-owned string. Commas are placed
/// automatically; the caller keeps keys and values balanced.
/// Strings must be valid UTF-8 (everything sluice stores was validated on
/// input); quotes, backslashes and control characters are escaped.
/// The string holds exactly the text written at every moment.
/// Not thread-safe; cheap to construct.
class json_writer {
 public:
  explicit json_writer(std::string& out) : out_(out) {}

  json_writer& begin_object() { return open('{'); }
  json_writer& end_object() { return close('}'); }
  json_writer& begin_array() { return open('['); }
  json_writer& end_array() { return close(']'); }

  /// `k` is written unescaped: it must be a plain field name chosen by
  /// sluice, never data from a client (write such data with string()).
  json_writer& key(std::string_view k) {
    bool comma = need_comma_;
    need_comma_ = false;
    return put(k.size() + 4, [&](char* p) {
      if (comma)
        *p++ = ',';
      *p++ = '"';
      std::memcpy(p, k.data(), k.size());
      p += k.size();
      *p++ = '"';
      *p++ = ':';
      return p;
    });
  }

  json_writer& string(std::string_view v);
  json_writer& integer(int64_t v);
  json_writer& uinteger(uint64_t v);
  json_writer& money(int64_t cents);
  /// `us` microseconds since the Unix epoch, as an RFC 3339 string.
  json_writer& timestamp(int64_t us);
  json_writer& boolean(bool v) { return raw(v ? std::string_view("true") : std::string_view("false")); }
  json_writer& null() { return raw("null"); }
  /// Inserts `json` verbatim as one value; it must already be valid JSON.
  json_writer& raw(std::string_view json) {
    bool comma = need_comma_;
    need_comma_ = true;
    return put(json.size() + 1, [&](char* p) {
      if (comma)
        *p++ = ',';
      std::memcpy(p, json.data(), json.size());
      return p + json.size();
    });
  }

 private:
  // Lets `write` fill up to `max` bytes at the end without zero-filling
  // them first; `write` returns the end of what it wrote.
  template <class Write>
  json_writer& put(size_t max, Write&& write) {
    size_t len = out_.size();
    out_.resize_and_overwrite(len + max, [&](char* p, size_t) { return static_cast<size_t>(write(p + len) - p); });
    return *this;
  }
  json_writer& open(char c) {
    bool comma = need_comma_;
    need_comma_ = false;
    return put(2, [&](char* p) {
      if (comma)
        *p++ = ',';
      *p++ = c;
      return p;
    });
  }
  json_writer& close(char c) {
    need_comma_ = true;
    out_.push_back(c);
    return *this;
  }

  std::string& out_;
  bool need_comma_ = false;
};

/// Appends `v` as a quoted, escaped JSON string.
void append_json_string(std::string& out, std::string_view v);

} // namespace sluice::codec
