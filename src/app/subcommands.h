// What each subcommand of app::run does once its flags are parsed; each
// returns the process exit status (app/run.h says which).
#pragma once

#include "app/flags.h"
#include "domain/model.h"
#include "log/dir_lock.h"

#include <iosfwd>
#include <optional>
#include <string>

namespace sluice::app {

/// Runs the server until SIGINT or SIGTERM (app/run.h: what it does to the process).
int serve(const log_flags& f, const domain::model& m, const serve_flags& s);
/// Applies NDJSON commands from `in`, one result per line on stdout.
int exec(const log_flags& f, const domain::model& m, std::istream& in);
/// Prints the log as NDJSON, opened read-only (beside a running server).
int events(const log_flags& f, const domain::model& m, const events_flags& e);
int check(const std::string& data);
int repair(const std::string& data);
int token_new(const token_flags& t);

/// One process per data directory (SPEC §7); logs the refusal, naming the holder.
std::optional<log::dir_lock> lock_data(const std::string& data);

} // namespace sluice::app
