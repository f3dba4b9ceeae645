// The command line of a sluice server, for any domain model:
//
//   serve   run the server (HTTP API over the actor engine)
//   exec    apply NDJSON commands from stdin to the event log
//   events  print the event log as NDJSON
//   demo    apply the program's sample session (if it has one)
//   check   verify a data directory's log offline
//   repair  cut the log at its first damage, keeping a copy
//   token   make bearer tokens for --auth
//   views   a running server's views, through its admin API
//
// Every flag comes from the tables of app/flags.h; this file assembles
// the subcommands and runs the one given.
#include "app/run.h"

#include "app/command_line.h"
#include "app/subcommands.h"
#include "base/logger.h"

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <iostream>
#include <sstream>

namespace sluice::app {

std::string_view version() { return SLUICE_VERSION; }

namespace {

constexpr logger k_log("sluice");

// Each subcommand's parsed values, and which one was given.
struct command_line {
  global_flags global;
  log_flags log;
  serve_flags serve;
  events_flags events;
  std::string data_dir;
  token_flags token;
  views_cli_options views;
  CLI::App *serve_cmd = nullptr, *exec_cmd = nullptr, *events_cmd = nullptr, *demo_cmd = nullptr, *check_cmd = nullptr,
           *repair_cmd = nullptr, *token_cmd = nullptr;
  std::vector<std::pair<CLI::App*, std::string_view>> views_cmds; ///< each with its action
};

void add_serve(CLI::App& app, command_line& c) {
  c.serve_cmd = app.add_subcommand("serve", "run the server: the HTTP API over the actor engine");
  add_flags(c.serve_cmd, serve_table(c.log, c.serve));
  auto* retain_all = c.serve_cmd->get_option("--retain");
  c.serve_cmd->get_option("--retain-bytes")->excludes(retain_all);
  c.serve_cmd->get_option("--retain-age")->excludes(retain_all);
  auto* cert = c.serve_cmd->get_option("--tls-cert");
  auto* key = c.serve_cmd->get_option("--tls-key");
  cert->needs(key);
  key->needs(cert);
}

void add_log_tools(CLI::App& app, command_line& c, const program& p) {
  c.exec_cmd = app.add_subcommand(
      "exec", "apply NDJSON commands from stdin; print one result per line (not while a server runs on --data)");
  add_flags(c.exec_cmd, log_table(c.log));
  c.events_cmd = app.add_subcommand(
      "events", "print the event log as NDJSON Event JSON (reads only: beside a running server, what is durable)");
  add_flags(c.events_cmd, events_table(c.log, c.events));
  if (!p.demo_script.empty()) {
    c.demo_cmd = app.add_subcommand("demo", std::string(p.demo_help));
    add_flags(c.demo_cmd, log_table(c.log));
  }
  c.check_cmd = app.add_subcommand("check",
                                   "verify a data directory's event log offline and report each "
                                   "damaged record (exit 1 if start-up would refuse it)");
  add_flags(c.check_cmd, data_dir_table(c.data_dir));
  c.repair_cmd = app.add_subcommand("repair",
                                    "cut the event log at its first damage, copying what is cut "
                                    "into DATA/repair-<time>/ (not while a server runs on DATA)");
  add_flags(c.repair_cmd, data_dir_table(c.data_dir));
}

void add_clients(CLI::App& app, command_line& c) {
  c.token_cmd = app.add_subcommand("token", "bearer tokens for --auth");
  c.token_cmd->require_subcommand(1);
  auto* token_new_cmd = c.token_cmd->add_subcommand(
      "new", "print a new random token (256 bits from the OS), then its JSON entry for the --auth file");
  add_flags(token_new_cmd, token_new_table(c.token));

  auto* views = app.add_subcommand("views", "a running server's views: versions and builds, through its admin API");
  views->require_subcommand(1);
  const std::pair<std::string_view, std::string_view> actions[] = {
      {"list", "every defined version of every view: state, position, lag, build"},
      {"rebuild", "rebuild the serving version of VIEW from the log's start, then swap it in"},
      {"errors", "the error log of VIEW: each parked key, why, since when"},
      {"replay", "retry VIEW's parked sequences (every key, or --key), in position order"},
      {"skip", "drop the parked events of --key from VIEW's error log (the key keeps its last good value)"},
  };
  for (auto [action, help] : actions) {
    auto* sub = views->add_subcommand(std::string(action), std::string(help));
    add_flags(sub, views_table(action, c.views));
    c.views_cmds.emplace_back(sub, action);
  }
}

// --config, --log-level … are accepted after a subcommand's name too.
void fall_through(CLI::App* a) {
  for (auto* sub : a->get_subcommands({})) {
    sub->fallthrough();
    fall_through(sub);
  }
}

int dispatch(command_line& c, const domain::model& m, const program& p) {
  if (*c.serve_cmd)
    return serve(c.log, m, c.serve);
  if (*c.exec_cmd)
    return exec(c.log, m, std::cin);
  if (*c.events_cmd)
    return events(c.log, m, c.events);
  if (*c.check_cmd)
    return check(c.data_dir);
  if (*c.repair_cmd)
    return repair(c.data_dir);
  if (*c.token_cmd)
    return token_new(c.token);
  for (auto& [sub, action] : c.views_cmds)
    if (*sub) {
      c.views.action = action;
      return views_cli(c.views);
    }
  if (c.demo_cmd && *c.demo_cmd) {
    std::istringstream script{std::string(p.demo_script)};
    std::cout << "# commands in, one result per line:\n";
    return exec(c.log, m, script);
  }
  return 0;
}

} // namespace

int run(int argc, char** argv, const domain::model& m, const program& p) {
  CLI::App app{std::string(p.description), std::string(p.name)};
  app.require_subcommand(1);
  app.set_version_flag("--version", p.version.empty() ? fmt::format("{} {}", p.name, version())
                                                      : fmt::format("{} {} (sluice {})", p.name, p.version, version()));
  app.set_config("--config", "",
                 "TOML or INI file of flags, a [serve] section for serve's (key: the flag without --); the command "
                 "line wins over SLUICE_* variables, and they over the file");
  app.allow_config_extras(false); // a misspelt key is an error, not a default silently kept
  env_before_file(app);
  command_line c;
  add_flags(&app, global_table(c.global));
  add_serve(app, c);
  add_log_tools(app, c, p);
  add_clients(app, c);
  fall_through(&app);
  if (int status = parse_or_exit(app, argc, argv); status >= 0)
    return status;
  auto& g = c.global;
  logger::set_level(g.log_level == "debug"   ? log_level::debug
                    : g.log_level == "warn"  ? log_level::warn
                    : g.log_level == "error" ? log_level::error
                                             : log_level::info);
  logger::set_format(g.log_format == "json" ? log_format::json : log_format::text);
  try {
    return dispatch(c, m, p);
  } catch (const std::exception& e) {
    k_log.error("{}", e.what());
    return 2;
  }
}

} // namespace sluice::app
