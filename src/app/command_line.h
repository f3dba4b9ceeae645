// What sluice's command line adds to CLI11: the precedence flags >
// environment > file, and usage errors that exit 2 naming the flag and what
// it accepts (app/flag_table.h adds the bounds).
#pragma once

#include <CLI/CLI.hpp>

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

} // namespace sluice::app
