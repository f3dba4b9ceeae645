#include "base/logger.h"

#include <unistd.h>

#include <chrono>

namespace sluice {

namespace {

std::atomic<log_level> g_level{log_level::info};

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

} // namespace

void logger::set_level(log_level level) noexcept { g_level.store(level, std::memory_order_relaxed); }

log_level logger::level() noexcept { return g_level.load(std::memory_order_relaxed); }

void logger::write(log_level l, std::string_view message) const {
  using namespace std::chrono;
  auto ms = duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
  auto line = fmt::format("{}.{:03d} {:5} [{}] {}\n", ms / 1000, ms % 1000, level_name(l), name_, message);
  // One write per line keeps lines from concurrent threads whole.
  auto rc = ::write(STDERR_FILENO, line.data(), line.size());
  (void)rc;
}

} // namespace sluice
