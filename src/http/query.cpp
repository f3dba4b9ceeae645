#include "http/query.h"

#include "base/hex.h"

#include <charconv>

namespace sluice::http {

std::optional<std::string> percent_decode(std::string_view s, bool plus_is_space) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '+' && plus_is_space) {
      out.push_back(' ');
      continue;
    }
    if (c != '%') {
      out.push_back(c);
      continue;
    }
    if (i + 2 >= s.size())
      return std::nullopt; // '%' needs two hex digits after it
    int hi = hex_digit(s[i + 1]), lo = hex_digit(s[i + 2]);
    if (hi < 0 || lo < 0)
      return std::nullopt;
    out.push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return out;
}

query::query(std::string_view q) {
  while (!q.empty()) {
    auto amp = q.find('&');
    auto part = q.substr(0, amp);
    q = amp == std::string_view::npos ? std::string_view{} : q.substr(amp + 1);
    if (part.empty())
      continue;
    auto eq = part.find('=');
    auto k = percent_decode(part.substr(0, eq), true);
    auto v = percent_decode(eq == std::string_view::npos ? std::string_view{} : part.substr(eq + 1), true);
    if (!k || !v) {
      bad_ = true;
      return;
    }
    params_.emplace(std::move(*k), std::move(*v));
  }
}

std::optional<std::string_view> query::get(std::string_view name) const {
  auto it = params_.find(name);
  if (it == params_.end())
    return std::nullopt;
  return it->second;
}

std::optional<uint64_t> query::number(std::string_view name, uint64_t fallback, uint64_t lo, uint64_t hi) const {
  auto s = get(name);
  if (!s)
    return fallback;
  uint64_t v = 0;
  auto [end, ec] = std::from_chars(s->data(), s->data() + s->size(), v);
  if (ec != std::errc() || end != s->data() + s->size() || v < lo || v > hi)
    return std::nullopt;
  return v;
}

} // namespace sluice::http
