// Named loggers, one per module. Library code logs here and never to stdout.
#pragma once

#include <fmt/format.h>

#include <atomic>
#include <string>
#include <string_view>

namespace sluice {

enum class log_level : int { debug = 0, info = 1, warn = 2, error = 3, off = 4 };

/// text: `2026-12-03T13:14:35.123Z INFO  [name] message`; json: one object
/// per line, `{"time","level","logger","message"}`. Times are RFC 3339, UTC.
enum class log_format : int { text = 0, json = 1 };

/// A named logger. Thread-safe: each line is written with one write(2) to stderr.
class logger {
 public:
  constexpr explicit logger(std::string_view name) : name_(name) {}

  template <class... Args>
  void debug(fmt::format_string<Args...> f, Args&&... args) const {
    log(log_level::debug, f, std::forward<Args>(args)...);
  }
  template <class... Args>
  void info(fmt::format_string<Args...> f, Args&&... args) const {
    log(log_level::info, f, std::forward<Args>(args)...);
  }
  template <class... Args>
  void warn(fmt::format_string<Args...> f, Args&&... args) const {
    log(log_level::warn, f, std::forward<Args>(args)...);
  }
  template <class... Args>
  void error(fmt::format_string<Args...> f, Args&&... args) const {
    log(log_level::error, f, std::forward<Args>(args)...);
  }

  /// Lines below `level` are dropped, process-wide.
  static void set_level(log_level level) noexcept;
  static log_level level() noexcept;
  static void set_format(log_format format) noexcept;
  static log_format format() noexcept;

  /// One line as written (without the newline), for tests.
  static std::string format_line(log_format format, std::string_view time, log_level l, std::string_view name,
                                 std::string_view message);

 private:
  template <class... Args>
  void log(log_level l, fmt::format_string<Args...> f, Args&&... args) const {
    if (l >= level())
      write(l, fmt::format(f, std::forward<Args>(args)...));
  }
  void write(log_level l, std::string_view message) const;

  std::string_view name_;
};

} // namespace sluice
