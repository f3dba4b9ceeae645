// A whole sluice server for one domain model, as a library call: the
// `sluice` binary is app::run over the built-in domain, and a user's
// server is the same call over theirs (docs/domain-guide.md).
#pragma once

#include "domain/model.h"

#include <string_view>

namespace sluice::app {

/// How the program presents itself on its command line.
struct program {
  std::string_view name = "sluice";
  std::string_view description = "sluice: an actor-based CQRS command processor with a durable event log";
  /// NDJSON commands `demo` applies; empty: the program has no `demo`.
  std::string_view demo_script = {};
  std::string_view demo_help = "apply a sample session of commands and print the results";
  /// What --version prints after the name; empty: sluice's own version.
  std::string_view version = {};
};

/// sluice's version (the project version of its CMake build).
std::string_view version();

/// Parses the command line (serve, exec, events, demo, check, repair,
/// token, views) and runs it over `model`. Returns the process exit status:
/// 0; 1 for a failed check or command; 2 for a usage error (naming the flag
/// or argument), a data directory another process holds, or a start that
/// failed. Never returns 74: after a failed fdatasync `serve` ends the
/// process at once with std::_Exit(74), so that nothing acknowledges data
/// the page cache may have dropped.
///
/// `serve` also changes the process: it blocks SIGINT, SIGTERM and SIGHUP
/// in every thread and takes them with sigwait (stop; reload --auth), and
/// raises glibc's M_TOP_PAD (mallopt) to 64 MiB so that the actor threads'
/// arenas grow in large steps. Call run() once, from main, before starting
/// threads of one's own.
int run(int argc, char** argv, const domain::model& model, const program& p = {});

} // namespace sluice::app
