// Durations and sizes in flags (SPEC §9): seconds or bytes as plain
// numbers, or with a unit: "90s", "15m", "12h", "30d"; sizes in powers of
// two as "512K", "512KiB", "20G", "20GiB" (K, M, G, T and KiB … TiB mean
// 1024^n, as in systemd and Redis's configuration), powers of ten only
// when spelt "KB", "MB", "GB", "TB" (SI: 1000^n).
#pragma once

#include <charconv>
#include <chrono>
#include <cstdint>
#include <expected>
#include <string>
#include <string_view>

namespace sluice {

namespace detail {
// The number and the unit after it; false if there is no number or it overflows.
inline bool split_number(std::string_view s, uint64_t& n, std::string_view& unit) {
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
  if (ec != std::errc() || end == s.data())
    return false;
  unit = s.substr(static_cast<size_t>(end - s.data()));
  return true;
}
} // namespace detail

inline std::expected<std::chrono::milliseconds, std::string> parse_duration(std::string_view s) {
  uint64_t n = 0;
  std::string_view unit;
  if (!detail::split_number(s, n, unit))
    return std::unexpected("'" + std::string(s) + "' is not a duration (e.g. 60, 90s, 15m, 12h, 30d)");
  uint64_t ms_per = unit == "ms"                  ? 1
                    : unit.empty() || unit == "s" ? 1000
                    : unit == "m"                 ? 60'000
                    : unit == "h"                 ? 3'600'000
                    : unit == "d"                 ? 86'400'000
                                                  : 0;
  if (ms_per == 0)
    return std::unexpected("'" + std::string(s) + "': unknown unit (ms, s, m, h, d)");
  if (n > UINT64_MAX / ms_per / 2)
    return std::unexpected("'" + std::string(s) + "' is too long");
  return std::chrono::milliseconds(static_cast<int64_t>(n * ms_per));
}

inline std::expected<uint64_t, std::string> parse_size(std::string_view s) {
  uint64_t n = 0;
  std::string_view unit;
  if (!detail::split_number(s, n, unit))
    return std::unexpected("'" + std::string(s) + "' is not a size (e.g. 1000000, 512MiB, 20GiB)");
  uint64_t per = unit.empty() || unit == "B"    ? 1
                 : unit == "KiB" || unit == "K" ? 1ull << 10
                 : unit == "MiB" || unit == "M" ? 1ull << 20
                 : unit == "GiB" || unit == "G" ? 1ull << 30
                 : unit == "TiB" || unit == "T" ? 1ull << 40
                 : unit == "KB"                 ? 1'000ull
                 : unit == "MB"                 ? 1'000'000ull
                 : unit == "GB"                 ? 1'000'000'000ull
                 : unit == "TB"                 ? 1'000'000'000'000ull
                                                : 0;
  if (per == 0)
    return std::unexpected("'" + std::string(s) +
                           "': unknown unit (B; K, M, G, T or KiB, MiB, GiB, TiB: powers of 1024; KB, MB, GB, TB: "
                           "powers of 1000)");
  if (n > UINT64_MAX / per)
    return std::unexpected("'" + std::string(s) + "' is too large");
  return n * per;
}

} // namespace sluice
