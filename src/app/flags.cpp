#include "app/flags.h"

#include <fmt/format.h>

namespace sluice::app {

namespace {

using k = flag::kind;

constexpr uint64_t kib = 1ull << 10, mib = 1ull << 20, gib = 1ull << 30, tib = 1ull << 40;

} // namespace

std::vector<flag> global_table(global_flags& f) {
  return {
      {"log-level",
       k::choice,
       &f.log_level,
       "info",
       "log lines below this level are dropped",
       {},
       0,
       0,
       "debug|info|warn|error"},
      {"log-format",
       k::choice,
       &f.log_format,
       "text",
       "text, or json: one object per line (time, level, logger, message)",
       {},
       0,
       0,
       "text|json"},
  };
}

std::vector<flag> log_table(log_flags& f) {
  return {
      {"data", k::text, &f.data, "./data", "data directory (the event log lives in <data>/log)"},
      {"durability",
       k::choice,
       &f.durability,
       "fsync",
       "fsync: fdatasync before a command counts as done; none: skip the sync (survives a process crash, not a "
       "power loss)",
       {},
       0,
       0,
       "fsync|none"},
  };
}

// One row per flag, in --help's order: a table reads better whole.
std::vector<flag> serve_table(log_flags& l, serve_flags& s) {
  auto& lim = s.limits;
  std::vector<flag> rows = log_table(l);
  std::vector<flag> own = {
      {"listen", k::text, &s.listen, "127.0.0.1:8080", "address and port to listen on"},
      {"threads",
       k::number,
       &s.threads,
       "0",
       "actor scheduler threads (0: the cores the I/O threads leave, at least 1)",
       {},
       0,
       1024},
      {"io-threads", k::number, &s.io_threads, "2", "network I/O threads", {}, 1, 256},
      {"shards", k::number, &s.shards, "2", "shards per view", {}, 1, 1024},
      {"max-in-flight",
       k::number,
       &s.max_in_flight,
       "1048576",
       "commands in flight before answering 503 overloaded (see --max-in-flight-bytes for their bytes)",
       {},
       1,
       gib},
      {"max-in-flight-bytes",
       k::size,
       &lim.body_memory_bytes,
       "512MiB",
       "bytes of request bodies held at once across all connections, until answered; beyond: 503 overloaded",
       {},
       64 * kib,
       tib},
      {"max-body-bytes", k::size, &lim.command_body_bytes, "1MiB", "largest single-command body", {}, 1, gib},
      {"max-batch-bytes", k::size, &lim.batch_body_bytes, "64MiB", "largest batch body", {}, 1, 4 * gib},
      {"max-batch-lines", k::number, &lim.batch_lines, "100000", "most commands in one batch", {}, 1, 10'000'000},
      {"max-header-bytes", k::size, &lim.header_bytes, "16KiB", "largest request line plus headers", {}, kib, mib},
      {"pipeline-depth",
       k::number,
       &lim.pipeline_depth,
       "32",
       "requests read ahead of their answers per connection",
       {},
       1,
       1024},
      {"idle-timeout", k::number, &lim.idle_seconds, "60", "seconds before an idle connection is closed", {}, 1, 86400},
      {"header-timeout",
       k::number,
       &lim.header_seconds,
       "10",
       "seconds from a request's first byte to the end of its headers (slow clients are closed)",
       {},
       1,
       3600},

      {"auth", k::file, &s.auth_file, "",
       "JSON file of bearer tokens and their grants (docs/security.md; `sluice token new` makes entries); SIGHUP "
       "reloads it",
       "Access"},
      {"insecure", k::toggle, &s.insecure, "", "listen on a non-loopback address without --auth", "Access"},
      {"cors-origin", k::list, &s.cors_origins, "",
       "an origin (scheme://host[:port]) whose pages may call the API and open streams; repeatable; '*' for any",
       "Access"},
      {"tls-cert", k::file, &s.tls_cert, "",
       "PEM certificate chain: serve HTTPS and WSS (TLS 1.2 or later) on --listen", "Access"},
      {"tls-key", k::file, &s.tls_key, "", "PEM private key of --tls-cert", "Access"},

      {"passivate-after", k::duration, &s.passivate_after, "60s",
       "an aggregate without a command for this long leaves memory, but for an index entry (0: never for "
       "idleness); seconds, or 90s, 15m, 12h, 30d",
       "Memory and restart"},
      {"max-live-aggregates", k::number, &s.max_live_aggregates, "1000000",
       "live aggregate actors at most: beyond, the least recently used leave memory (within a second)",
       "Memory and restart", 1, tib},
      {"snapshot-every", k::number, &s.snapshot_every, "200",
       "snapshot an aggregate every this many events (0: only when it passivates), under <data>/snapshots",
       "Memory and restart", 0, 1ull << 32},
      {"no-snapshots", k::toggle, &s.no_snapshots, "",
       "take no snapshots and use none: aggregates come back from the log alone", "Memory and restart"},
      {"checkpoint-every", k::number, &s.checkpoint_every, "1000000",
       "checkpoint each view shard and the history index every this many events, and at least 4 per key it holds "
       "(0: only at a graceful stop), under <data>/checkpoints; start-up replays only the log after them",
       "Memory and restart", 0, tib},
      {"no-checkpoints", k::toggle, &s.no_checkpoints, "",
       "write no checkpoints and load none: start-up replays the whole log", "Memory and restart"},

      {"segment-bytes", k::size, &s.segment_bytes, "64MiB",
       "a log segment is closed at this size (retention deletes whole segments); bytes, or 512MiB", "Retention",
       4 * kib, tib},
      {"retain", k::choice, &s.retain, "all", "'all': keep the whole log (the default; see the limits below)",
       "Retention", 0, 0, "all"},
      {"retain-bytes", k::size, &s.retain_bytes, "",
       "delete the oldest closed segments beyond the newest that add up to this size; bytes, or 20GiB", "Retention", 0,
       1ull << 60},
      {"retain-age", k::duration, &s.retain_age, "",
       "delete closed segments whose last event is older than this; seconds, or 12h, 30d", "Retention"},

      {"cluster", k::text, &s.cluster, "",
       "NATS servers of the cluster's JetStream, nats://host:port,… (docs/cluster.md); the events live there, "
       "replicated on three servers; while they cannot be reached, /readyz answers 503 and the node keeps trying; "
       "empty: alone on the local log",
       "Cluster"},
      {"node", k::text, &s.node, "", "this node's name in the cluster: 1-64 of a-z 0-9 _ - (required with --cluster)",
       "Cluster"},
      {"partitions", k::number, &s.partitions, "0",
       "aggregate partitions, fixed when the cluster's stream is created (0: the cluster's, or 64 for a new one)",
       "Cluster", 0, 4096},

      {"keep-parked", k::toggle, &s.keep_parked, "",
       "keys parked in a view's error log stay parked at start instead of being retried once", "Views"},

      {"drill-fail-sync-after", k::number, &s.drill_fail_sync_after, "0",
       "drill: make the log's fdatasync fail (EIO) after this many succeed (0: never); the server exits 74", "Drills",
       0, tib},
      {"drill-fail-view", k::list, &s.drill_fail_views, "",
       "drill: VIEW=PREFIX makes VIEW's projector fail on every event whose key starts with PREFIX (the events are "
       "parked in its error log); repeatable. Restarting without it is the fix",
       "Drills"},
      {"drill-slow-build", k::toggle, &s.drill_slow_build, "",
       "drill: view builds read 16 events at a time and pause 20 ms after each (800 events/s), to act in the middle "
       "of one",
       "Drills"},
      {"drill-delay-process", k::list, &s.drill_delay_processes, "",
       "drill: PROCESS=MS makes the process manager wait MS milliseconds before each step it takes (transfers=200); "
       "repeatable",
       "Drills"},
  };
  rows.insert(rows.end(), own.begin(), own.end());
  return rows;
}

std::vector<flag> events_table(log_flags& l, events_flags& e) {
  std::vector<flag> rows = log_table(l);
  rows.push_back({"from", k::number, &e.from, "1", "first position", {}, 1, UINT64_MAX});
  rows.push_back({"limit", k::number, &e.limit, "18446744073709551615", "most events to print", {}, 0, UINT64_MAX});
  return rows;
}

std::vector<flag> data_dir_table(std::string& dir) {
  return {{"data", k::positional, &dir, "", "data directory", {}, 0, 0, {}, true}};
}

std::vector<flag> token_new_table(token_flags& t) {
  return {
      {"name", k::positional, &t.name, "", "the token's name (in the auth file and its errors)", {}, 0, 0, {}, true},
      {"grant",
       k::list,
       &t.grants,
       "",
       "commands:<type>, commands:*, views:<view>, views:*, events, metrics or admin; repeatable",
       {},
       0,
       0,
       {},
       true},
  };
}

std::vector<flag> views_table(std::string_view action, views_cli_options& v) {
  std::vector<flag> rows;
  if (action != "list")
    rows.push_back({"view", k::positional, &v.view, "", "the view", {}, 0, 0, {}, true});
  if (action == "replay")
    rows.push_back({"key", k::text, &v.key, "", "only this key"});
  if (action == "skip")
    rows.push_back({"key", k::text, &v.key, "", "the key", {}, 0, 0, {}, true});
  std::vector<flag> common = {
      {"server", k::text, &v.server, "http://127.0.0.1:8080", "the server's URL"},
      {"token", k::text, &v.token, "", "bearer token with the admin grant", {}, 0, 0, {}, false, "SLUICE_TOKEN"},
      {"ca-file", k::text, &v.ca_file, "",
       "https://: check the server's certificate against this PEM (default: the system's CAs)"},
      {"json", k::toggle, &v.json, "", "print the server's JSON instead of a table"},
  };
  rows.insert(rows.end(), common.begin(), common.end());
  return rows;
}

std::string flags_reference() {
  global_flags g;
  log_flags l;
  serve_flags s;
  events_flags e;
  std::string dir;
  token_flags t;
  views_cli_options v;
  std::string out = flags_markdown("sluice (before or after any subcommand)", global_table(g));
  out += "\n" + flags_markdown("sluice serve", serve_table(l, s));
  out += "\n" + flags_markdown("sluice exec, sluice demo", log_table(l));
  out += "\n" + flags_markdown("sluice events", events_table(l, e));
  out += "\n" + flags_markdown("sluice check, sluice repair", data_dir_table(dir));
  out += "\n" + flags_markdown("sluice token new", token_new_table(t));
  for (std::string_view action : {"list", "rebuild", "errors", "replay", "skip"})
    out += "\n" + flags_markdown(fmt::format("sluice views {}", action), views_table(action, v));
  return out;
}

} // namespace sluice::app
