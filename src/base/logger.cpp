#include "base/logger.h"

#include <unistd.h>

#include <fmt/chrono.h>

#include <chrono>

namespace sluice {

namespace {

std::atomic<log_level> g_level{log_level::info};
std::atomic<log_format> g_format{log_format::text};

constexpr std::string_view level_name(log_level l) {
  switch (l) {
    case log_level::debug: return "DEBUG";
    case log_level::info: return "INFO";
    case log_level::warn: return "WARN";
    case log_level::error: return "ERROR";
    case log_level::off: break;
  }
  return "?";
}

constexpr std::string_view lower_name(log_level l) {
  switch (l) {
    case log_level::debug: return "debug";
    case log_level::info: return "info";
    case log_level::warn: return "warn";
    case log_level::error: return "error";
    case log_level::off: break;
  }
  return "?";
}

// The length of the valid UTF-8 sequence at the start of `s`, 0 if none.
size_t utf8_length(std::string_view s) {
  auto b = static_cast<unsigned char>(s[0]);
  size_t n = b < 0x80 ? 1 : (b >> 5) == 0x6 ? 2 : (b >> 4) == 0xe ? 3 : (b >> 3) == 0x1e ? 4 : 0;
  if (n == 0 || n > s.size())
    return 0;
  for (size_t i = 1; i < n; ++i)
    if ((static_cast<unsigned char>(s[i]) & 0xc0) != 0x80)
      return 0;
  return n;
}

// A JSON string's contents: quotes, backslashes and control characters
// escaped, bytes that are not UTF-8 replaced, so every line parses.
void append_json_string(std::string& out, std::string_view s) {
  while (!s.empty()) {
    auto c = static_cast<unsigned char>(s[0]);
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(static_cast<char>(c));
      s.remove_prefix(1);
    } else if (c < 0x20) {
      out += fmt::format("\\u{:04x}", c);
      s.remove_prefix(1);
    } else if (auto n = utf8_length(s); n > 0) {
      out.append(s.substr(0, n));
      s.remove_prefix(n);
    } else {
      out += "\\ufffd";
      s.remove_prefix(1);
    }
  }
}

std::string rfc3339_now() {
  using namespace std::chrono;
  auto now = system_clock::now();
  auto ms = duration_cast<milliseconds>(now.time_since_epoch()).count() % 1000;
  return fmt::format("{:%Y-%m-%dT%H:%M:%S}.{:03d}Z", floor<seconds>(now), ms);
}

} // namespace

std::string logger::format_line(log_format format, std::string_view time, log_level l, std::string_view name,
                                std::string_view message) {
  if (format == log_format::text)
    return fmt::format("{} {:5} [{}] {}", time, level_name(l), name, message);
  std::string out = fmt::format(R"({{"time":"{}","level":"{}","logger":")", time, lower_name(l));
  append_json_string(out, name);
  out += R"(","message":")";
  append_json_string(out, message);
  out += "\"}";
  return out;
}

void logger::set_format(log_format format) noexcept { g_format.store(format, std::memory_order_relaxed); }

log_format logger::format() noexcept { return g_format.load(std::memory_order_relaxed); }

void logger::set_level(log_level level) noexcept { g_level.store(level, std::memory_order_relaxed); }

log_level logger::level() noexcept { return g_level.load(std::memory_order_relaxed); }

void logger::write(log_level l, std::string_view message) const {
  auto line = format_line(g_format.load(std::memory_order_relaxed), rfc3339_now(), l, name_, message);
  line.push_back('\n');
  // One write per line keeps lines from concurrent threads whole.
  auto rc = ::write(STDERR_FILENO, line.data(), line.size());
  (void)rc;
}

} // namespace sluice
