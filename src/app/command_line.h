// What sluice's command line adds to CLI11: the precedence flags >
// environment > file, usage errors that exit 2 naming the flag and what it
// accepts, and bounds for every number.
#pragma once

#include <CLI/CLI.hpp>

#include <fmt/format.h>

#include <limits>
#include <string>

namespace sluice::app {

/// The exit status of every usage error (sysexits' EX_USAGE is 64; 2 is
/// what getopt-style tools and `sluice` promise in SPEC §7).
inline constexpr int k_exit_usage = 2;

/// Makes `--config FILE` yield to SLUICE_* variables: CLI11 reads the file
/// before the environment and lets the first source win, so a key whose
/// option has its variable set is dropped from the file as it is read.
/// The command line still wins over both (CLI11 fills an option from the
/// file or the environment only when the command line left it empty).
void env_before_file(CLI::App& app);

/// Parses; on --help or --version prints them and returns 0; on a usage
/// error prints one line naming the subcommand, the flag or argument and
/// what it accepts, and returns k_exit_usage. Returns -1 when parsing
/// succeeded and the program should go on.
int parse_or_exit(CLI::App& app, int argc, char** argv);

/// An integer option bounded to [lo, hi]; the error names the flag and the
/// bounds ("--threads: -1 is not an integer from 0 to 1024").
template <class T>
CLI::Option* add_number(CLI::App* cmd, const std::string& name, T& value, const std::string& help, T lo, T hi) {
  auto* opt = cmd->add_option(name, value, help);
  opt->check(CLI::Validator(
      [lo, hi](std::string& v) -> std::string {
        T n{};
        if (CLI::detail::lexical_cast(v, n) && n >= lo && n <= hi)
          return {};
        return fmt::format("'{}' is not an integer from {} to {}", v, lo, hi);
      },
      fmt::format("{}..{}", lo, hi)));
  opt->capture_default_str();
  return opt;
}

} // namespace sluice::app
