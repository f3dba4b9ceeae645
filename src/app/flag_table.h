// A subcommand's flags as one table: each row says a flag's name, kind,
// default, bounds and help once, and CLI11's option, its `--config` key,
// its SLUICE_* variable, `--help` and the flag list of docs/operations.md
// are all made from it (STYLE habit 8).
#pragma once

#include <CLI/CLI.hpp>

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace sluice::app {

struct flag {
  enum class kind : uint8_t {
    text,       ///< any string
    choice,     ///< one of `choices` ("fsync|none")
    number,     ///< an unsigned integer in [lo, hi]
    size,       ///< bytes, or a number with a unit (base/units.h), in [lo, hi]
    duration,   ///< seconds, or a number with a unit (base/units.h); stored as text, checked here
    toggle,     ///< a flag without a value
    list,       ///< repeatable; each value a string
    file,       ///< the path of an existing file
    positional, ///< an argument without a dash, named `name`
  };
  using target = std::variant<std::string*, bool*, unsigned*, uint64_t*, std::vector<std::string>*>;

  std::string_view name; ///< without "--"; the config key; SLUICE_<NAME> with '_' for '-'
  kind type;
  target into;
  std::string_view fallback; ///< the default as a user would write it; empty: none
  std::string_view help;
  std::string_view group = {};   ///< a --help section; empty: the subcommand's main list
  uint64_t lo = 0, hi = 0;       ///< number, size: the bounds
  std::string_view choices = {}; ///< choice: the values, '|'-separated
  bool required = false;
  std::string_view env = {}; ///< a variable of its own instead of SLUICE_<NAME>

  /// The environment variable that sets it; empty for positionals.
  std::string env_name() const;
};

/// Adds every row to `cmd` as a CLI11 option bound to its target, writing
/// the default into the target first. Returns the options in row order.
std::vector<CLI::Option*> add_flags(CLI::App* cmd, std::span<const flag> rows);

/// The Markdown table of a subcommand's flags, one row per flag, as
/// docs/operations.md lists them (a test compares the two).
std::string flags_markdown(std::string_view command, std::span<const flag> rows);

} // namespace sluice::app
