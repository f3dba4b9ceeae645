#include "codec/money.h"

#include <charconv>
#include <cmath>

namespace sluice::codec {

std::optional<int64_t> money_from_double(double value) {
  if (!std::isfinite(value))
    return std::nullopt;
  constexpr double limit = static_cast<double>(k_max_money_cents) / 100.0;
  if (value > limit || value < -limit)
    return std::nullopt;
  auto cents = std::llround(value * 100.0);
  if (static_cast<double>(cents) / 100.0 != value)
    return std::nullopt;
  return static_cast<int64_t>(cents);
}

void append_money(std::string& out, int64_t cents) {
  // Work in unsigned so that INT64_MIN has a magnitude.
  uint64_t magnitude = cents < 0 ? 0 - static_cast<uint64_t>(cents) : static_cast<uint64_t>(cents);
  if (cents < 0)
    out.push_back('-');
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, magnitude / 100);
  out.append(buf, end);
  auto frac = static_cast<unsigned>(magnitude % 100);
  char tail[3] = {'.', static_cast<char>('0' + frac / 10), static_cast<char>('0' + frac % 10)};
  out.append(tail, sizeof tail);
}

} // namespace sluice::codec
