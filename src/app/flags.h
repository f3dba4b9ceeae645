// Every subcommand's flags: one struct of values and one table that says
// each flag once (name, kind, default, bounds, help; app/flag_table.h).
// The structs have no defaults of their own: add_flags writes the table's.
#pragma once

#include "app/flag_table.h"
#include "app/views_cli.h"
#include "http/routes.h"

#include <cstdint>
#include <string>
#include <vector>

namespace sluice::app {

/// Flags of every subcommand that opens the log.
struct log_flags {
  std::string data;
  std::string durability; ///< fsync, none
};

struct serve_flags {
  std::string listen;
  unsigned threads = 0, io_threads = 0, shards = 0;
  uint64_t max_in_flight = 0;
  http::limits limits;
  std::string passivate_after; ///< a duration (checked)
  uint64_t max_live_aggregates = 0, snapshot_every = 0, checkpoint_every = 0;
  bool no_snapshots = false, no_checkpoints = false;
  uint64_t segment_bytes = 0, retain_bytes = 0; ///< bytes; retain_bytes 0: no limit
  std::string retain, retain_age;               ///< retain_age: a duration or empty
  std::string auth_file, tls_cert, tls_key;
  bool insecure = false;
  std::vector<std::string> cors_origins;
  bool keep_parked = false;
  uint64_t drill_fail_sync_after = 0;
  std::vector<std::string> drill_fail_views, drill_delay_processes;
  bool drill_slow_build = false;
  std::string cluster, node; ///< cluster: NATS URLs, comma-separated; empty: alone
  unsigned partitions = 0;   ///< 0: the cluster's, or 64 for a new one
};

struct global_flags {
  std::string log_level, log_format;
};

struct events_flags {
  uint64_t from = 0, limit = 0;
};

struct token_flags {
  std::string name;
  std::vector<std::string> grants;
};

std::vector<flag> global_table(global_flags& f);
std::vector<flag> log_table(log_flags& f);
/// The log's flags, then serve's own.
std::vector<flag> serve_table(log_flags& l, serve_flags& s);
std::vector<flag> events_table(log_flags& l, events_flags& e);
std::vector<flag> data_dir_table(std::string& dir);
std::vector<flag> token_new_table(token_flags& t);
/// `views ACTION`: with the VIEW argument unless `list`, with --key for
/// `replay` (optional) and `skip` (required).
std::vector<flag> views_table(std::string_view action, views_cli_options& v);

/// The flag list of docs/operations.md: every subcommand's table.
std::string flags_reference();

} // namespace sluice::app
