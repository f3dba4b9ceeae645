#include "codec/json_writer.h"

#include "codec/money.h"
#include "codec/timestamp.h"

#include <array>
#include <charconv>

namespace sluice::codec {

namespace {

constexpr bool needs_escape(unsigned char c) { return c < 0x20 || c == '"' || c == '\\'; }

constexpr auto k_escape_table = [] {
  std::array<bool, 256> t{};
  for (int c = 0; c < 256; ++c)
    t[static_cast<size_t>(c)] = needs_escape(static_cast<unsigned char>(c));
  return t;
}();

// Writes the escaped form of v (without quotes) at p, which has room for
// 6 bytes per input byte; returns the end.
char* escape_into(char* p, std::string_view v) {
  static constexpr char hex[] = "0123456789abcdef";
  for (char ch : v) {
    auto c = static_cast<unsigned char>(ch);
    if (!k_escape_table[c]) {
      *p++ = ch;
      continue;
    }
    *p++ = '\\';
    switch (c) {
      case '"': *p++ = '"'; break;
      case '\\': *p++ = '\\'; break;
      case '\n': *p++ = 'n'; break;
      case '\r': *p++ = 'r'; break;
      case '\t': *p++ = 't'; break;
      case '\b': *p++ = 'b'; break;
      case '\f': *p++ = 'f'; break;
      default:
        *p++ = 'u';
        *p++ = '0';
        *p++ = '0';
        *p++ = hex[c >> 4];
        *p++ = hex[c & 0xF];
    }
  }
  return p;
}

bool plain(std::string_view v) {
  for (char ch : v)
    if (k_escape_table[static_cast<unsigned char>(ch)])
      return false;
  return true;
}

} // namespace

void append_json_string(std::string& out, std::string_view v) { json_writer(out).string(v); }

json_writer& json_writer::string(std::string_view v) {
  bool comma = need_comma_;
  need_comma_ = true;
  bool is_plain = plain(v); // the common case: one copy
  return put(v.size() * (is_plain ? 1 : 6) + 3, [&](char* p) {
    if (comma)
      *p++ = ',';
    *p++ = '"';
    if (is_plain) {
      std::memcpy(p, v.data(), v.size());
      p += v.size();
    } else {
      p = escape_into(p, v);
    }
    *p++ = '"';
    return p;
  });
}

json_writer& json_writer::integer(int64_t v) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  return raw(std::string_view(buf, static_cast<size_t>(end - buf)));
}

json_writer& json_writer::uinteger(uint64_t v) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  return raw(std::string_view(buf, static_cast<size_t>(end - buf)));
}

json_writer& json_writer::money(int64_t cents) {
  std::string s;
  append_money(s, cents);
  return raw(s);
}

json_writer& json_writer::timestamp(int64_t us) {
  std::string s = "\"";
  append_timestamp(s, us);
  s.push_back('"');
  return raw(s);
}

} // namespace sluice::codec
