// The command line of a sluice server, for any domain model:
//
//   serve   run the server (HTTP API over the actor engine)
//   exec    apply NDJSON commands from stdin to the event log
//   events  print the event log as NDJSON
//   demo    apply the program's sample session (if it has one)
//   check   verify a data directory's log offline
//   repair  cut the log at its first damage, keeping a copy
#include "app/run.h"

#include "app/command_line.h"
#include "app/views_cli.h"

#include "app/offline_engine.h"
#include "engine/engine.h"
#include "http/server.h"
#include "base/host_port.h"
#include "base/logger.h"
#include "codec/json_writer.h"
#include "domain/event_json.h"
#include "log/check.h"
#include "log/dir_lock.h"
#include "log/event_log.h"

#include "base/units.h"

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <cctype>
#include <charconv>
#include <chrono>
#include <atomic>
#include <cerrno>
#include <csignal>
#include <pthread.h>
#include <cstdio>
#include <malloc.h>
#include <iostream>
#include <optional>
#include <sstream>
#include <thread>

namespace {

using namespace sluice;

constexpr logger k_log("sluice");

struct log_flags {
  std::string data = "./data";
  std::string durability = "fsync";
};

void add_log_flags(CLI::App* cmd, log_flags& f) {
  cmd->add_option("--data", f.data, "data directory (the event log lives in <data>/log)")->capture_default_str();
  cmd->add_option("--durability", f.durability,
                  "fsync: fdatasync before a command counts as done; none: skip the sync (survives a process "
                  "crash, not a power loss)")
      ->check(CLI::IsMember({"fsync", "none"}))
      ->capture_default_str();
}

// Read-only: beside a running server, creating and cutting nothing (SPEC §7).
std::unique_ptr<log::event_log> open_log(const log_flags& f, const domain::model& m, bool read_only = false) {
  auto mode = f.durability == "none" ? log::durability::none : log::durability::fsync;
  if (mode == log::durability::none && !read_only)
    k_log.warn("durability none: acknowledged commands survive a process crash but not a power loss");
  log::options lo;
  lo.dir = std::filesystem::path(f.data) / "log";
  lo.mode = mode;
  lo.read_only = read_only;
  lo.upcaster = &m.types();
  auto log = log::event_log::open(lo);
  if (!log) {
    k_log.error("cannot open the event log: {}", log.error().message);
    return nullptr;
  }
  auto& r = (*log)->recovery();
  if (!read_only)
    k_log.info("event log {}: {} records in {} segments, recovered in {} ms{}", f.data, r.records, r.segments,
               static_cast<double>(r.took.count()) / 1000.0,
               r.truncated_bytes ? fmt::format(" (cut a torn tail of {} bytes)", r.truncated_bytes) : "");
  return std::move(*log);
}

// One process per data directory (SPEC §7): taken before the log is opened,
// since recovery itself writes (it cuts a torn tail).
std::optional<log::dir_lock> lock_data(const std::string& data) {
  auto lock = log::dir_lock::acquire(data);
  if (!lock) {
    k_log.error("{}", lock.error().message);
    return std::nullopt;
  }
  return std::move(*lock);
}

int exec(const log_flags& f, const domain::model& m, std::istream& in) {
  auto lock = lock_data(f.data);
  if (!lock)
    return 2;
  auto log = open_log(f, m);
  if (!log)
    return 2;
  auto engine = app::offline_engine::open(*log, m.types());
  if (!engine) {
    k_log.error("cannot rebuild aggregates from the log: {}", engine.error().message);
    return 2;
  }
  return (*engine)->run(in, std::cout) ? 0 : 1;
}

int events(const log_flags& f, const domain::model& m, uint64_t from, uint64_t limit) {
  auto log = open_log(f, m, true);
  if (!log)
    return 2;
  std::string text;
  auto r = log->read(from, limit, [&](const log::record& rec) {
    {
      codec::json_writer w(text);
      domain::write_event_json(m.types(), rec, w);
    }
    text.push_back('\n');
    if (text.size() > (1 << 16)) {
      std::fwrite(text.data(), 1, text.size(), stdout);
      text.clear();
    }
    return true;
  });
  std::fwrite(text.data(), 1, text.size(), stdout);
  if (!r) {
    k_log.error("{}", r.error().message);
    return 1;
  }
  return 0;
}

// A line of the start-up banner: plain text on stdout, or with
// --log-format json a log line like every other (SPEC §7: every line the
// process writes is then JSON).
template <class... Args>
void banner(fmt::format_string<Args...> f, Args&&... args) {
  auto line = fmt::format(f, std::forward<Args>(args)...);
  if (logger::format() == log_format::json) {
    auto first = line.find_first_not_of(' ');
    k_log.info("{}", std::string_view(line).substr(first == std::string::npos ? 0 : first));
    return;
  }
  fmt::print("{}\n", line);
  std::fflush(stdout);
}

/// The exit status after a failed fdatasync (EX_IOERR): a supervisor restarts.
constexpr int k_exit_sync_failed = 74;

// `sluice check DATA`: 0 when the log starts as it is (a torn tail
// included, which recovery cuts), 1 when damage would stop start-up.
int check(const std::string& data) {
  std::error_code ec;
  if (!std::filesystem::is_directory(std::filesystem::path(data) / "log", ec)) {
    k_log.error("{}: no event log there ({} is not a directory)", data, (std::filesystem::path(data) / "log").string());
    return 2;
  }
  auto r = log::check(std::filesystem::path(data) / "log");
  if (!r) {
    k_log.error("{}", r.error().message);
    return 2;
  }
  fmt::print("{}: {} segments, {} records in order (positions 1 to {})\n", data, r->segments, r->records,
             r->last_position);
  for (auto& d : r->damaged)
    fmt::print("  damaged: {} at offset {} (position {} expected there): {}\n", d.file.string(), d.offset, d.position,
               d.what);
  if (r->damaged.empty()) {
    fmt::print("no damage\n");
    return 0;
  }
  if (r->torn_tail) {
    fmt::print("a torn tail only: the server cuts it at start-up\n");
    return 0;
  }
  fmt::print(
      "{} valid records lie after the first damage; `sluice repair {}` cuts the log there "
      "(and keeps a copy of what it cuts)\n",
      r->records_after_damage, data);
  return 1;
}

// `sluice repair DATA`: cuts at the first damage, copying what it removes.
int repair(const std::string& data) {
  std::error_code ec;
  if (!std::filesystem::is_directory(std::filesystem::path(data) / "log", ec)) {
    k_log.error("{}: no event log there ({} is not a directory)", data, (std::filesystem::path(data) / "log").string());
    return 2;
  }
  auto lock = lock_data(data);
  if (!lock)
    return 2;
  auto stamp = std::chrono::system_clock::now().time_since_epoch();
  auto backup = std::filesystem::path(data) /
                fmt::format("repair-{}", std::chrono::duration_cast<std::chrono::seconds>(stamp).count());
  auto r = log::repair(std::filesystem::path(data) / "log", backup);
  if (!r) {
    k_log.error("{}", r.error().message);
    return 2;
  }
  if (r->before.damaged.empty()) {
    fmt::print("{}: no damage; nothing cut\n", data);
    return 0;
  }
  auto& first = r->before.damaged.front();
  fmt::print(
      "cut the log at {} offset {}: kept {} events (positions 1 to {}), cut the damaged record and {} valid events "
      "after it; what was cut is in {}\n",
      first.file.string(), first.offset, r->before.records, r->before.last_position, r->events_cut,
      r->saved_to.string());
  return 0;
}

struct serve_flags {
  std::string listen = "127.0.0.1:8080";
  std::string passivate_after = "60s";
  size_t max_live_aggregates = 1'000'000;
  uint64_t snapshot_every = 200;
  bool no_snapshots = false;
  uint64_t checkpoint_every = 1'000'000;
  bool no_checkpoints = false;
  std::string retain = "all", retain_bytes, retain_age, segment_bytes = "64MiB";
  uint32_t threads = 0, io_threads = 2, shards = 2;
  size_t max_in_flight = 1u << 20;
  uint64_t drill_fail_sync_after = 0;
  std::vector<std::string> drill_fail_views;
  bool drill_slow_build = false;
  std::vector<std::string> drill_delay_processes;
  bool keep_parked = false;
  std::string auth_file;
  bool insecure = false;
  std::vector<std::string> cors_origins;
  std::string tls_cert, tls_key;
  http::limits limits;
};

// `sluice token new`: a token on the first line, its auth file entry on the second.
int token_new(const std::string& name, const std::vector<std::string>& grants) {
  for (auto& g : grants)
    if (!http::auth::valid_grant(g)) {
      k_log.error("unknown grant '{}': commands:<type>, commands:*, views:<view>, views:*, events, metrics, admin", g);
      return 2;
    }
  auto token = http::auth::new_token();
  std::string entry;
  codec::json_writer w(entry);
  w.begin_object().key("name").string(name).key("sha256").string(http::auth::to_hex(http::auth::sha256(token)));
  w.key("grants").begin_array();
  for (auto& g : grants)
    w.string(g);
  w.end_array().end_object();
  fmt::print("{}\n{}\n", token, entry);
  return 0;
}

int serve(const log_flags& f, const domain::model& m, const serve_flags& s) {
  auto listen = parse_host_port(s.listen);
  if (!listen) {
    k_log.error("--listen {}", listen.error());
    return 2;
  }
  std::shared_ptr<http::auth::authority> authority;
  if (!s.auth_file.empty()) {
    auto t = http::auth::table::load(s.auth_file);
    if (!t) {
      k_log.error("--auth {}", t.error());
      return 2;
    }
    authority = std::make_shared<http::auth::authority>(std::make_shared<const http::auth::table>(std::move(*t)));
  } else if (!is_loopback(listen->host) && !s.insecure) {
    k_log.error(
        "refusing to listen on {} without --auth: anyone who reaches it could send any command and read "
        "every view (--insecure to do it anyway, e.g. behind a proxy that checks access)",
        s.listen);
    return 2;
  }
  // SIGINT/SIGTERM/SIGHUP are taken by sigwait below; block them before any thread starts.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  engine::options o;
  o.model = &m;
  o.data_dir = f.data;
  o.durability = f.durability == "none" ? log::durability::none : log::durability::fsync;
  // The actor workers share the cores with the I/O and log threads, so by
  // default they take what the I/O threads leave, at least one. On two cores
  // one worker answers single commands ~8 % faster and batches ~2 % slower
  // than two (bench/RESULTS.md).
  unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  o.threads = s.threads ? s.threads : std::max(1u, cores - std::min(cores, s.io_threads));
  o.shards = s.shards;
  o.max_in_flight = s.max_in_flight;
  o.passivate_after = *parse_duration(s.passivate_after); // checked by the flag
  o.max_live_aggregates = s.max_live_aggregates;
  o.snapshot_every = s.snapshot_every;
  o.snapshots = !s.no_snapshots;
  o.checkpoint_every = s.checkpoint_every;
  o.checkpoints = !s.no_checkpoints;
  o.segment_bytes = *parse_size(s.segment_bytes); // checked by the flag
  if (!s.retain_bytes.empty())
    o.retain_bytes = *parse_size(s.retain_bytes);
  if (!s.retain_age.empty())
    o.retain_age = std::chrono::duration_cast<std::chrono::seconds>(*parse_duration(s.retain_age));
  if ((o.retain_bytes > 0 || o.retain_age.count() > 0) && (!o.snapshots || !o.checkpoints)) {
    k_log.error(
        "--retain-bytes and --retain-age need snapshots and checkpoints (the log they replace is deleted): "
        "drop --no-snapshots / --no-checkpoints");
    return 2;
  }
  // A failed fdatasync may have lost acknowledged-to-be data in the page
  // cache: stop here, and let recovery read what is really on disk.
  o.on_sync_failure = [](const log::error& err) {
    k_log.error("{}: exiting; restart to recover from what the disk holds", err.message);
    std::_Exit(k_exit_sync_failed);
  };
  for (auto& d : s.drill_fail_views) {
    auto eq = d.find('=');
    auto view = d.substr(0, eq);
    if (eq == std::string::npos || std::ranges::none_of(m.views(), [&](auto& v) { return v.name == view; })) {
      k_log.error("--drill-fail-view {}: expected VIEW=PREFIX with a view this server serves", d);
      return 2;
    }
    k_log.warn("drill: view {} fails every event of a key starting with '{}' (its error log parks them)", view,
               d.substr(eq + 1));
    o.drill_fail_views.emplace_back(view, d.substr(eq + 1));
  }
  for (auto& d : s.drill_delay_processes) {
    auto eq = d.find('=');
    auto name = d.substr(0, eq);
    uint64_t ms = 0;
    const char* end = d.data() + d.size();
    bool number = eq != std::string::npos && eq + 1 < d.size() &&
                  std::from_chars(d.data() + eq + 1, end, ms).ptr == end && ms <= 3'600'000;
    if (!number || std::ranges::none_of(m.processes(), [&](auto& p) { return p.name == name; })) {
      k_log.error("--drill-delay-process {}: expected PROCESS=MS with a process this server runs and 0 to 3600000 ms",
                  d);
      return 2;
    }
    k_log.warn("drill: process {} waits {} ms before each step", name, ms);
    o.drill_delay_processes.emplace_back(name, std::chrono::milliseconds(ms));
  }
  o.keep_parked = s.keep_parked;
  o.drill_slow_build = s.drill_slow_build;
  if (s.drill_slow_build)
    k_log.warn("drill: view builds go at 800 events/s");
  if (s.drill_fail_sync_after > 0) {
    k_log.warn("drill: the fdatasync after {} succeed fails with EIO", s.drill_fail_sync_after);
    auto left = std::make_shared<std::atomic<int64_t>>(static_cast<int64_t>(s.drill_fail_sync_after));
    o.log_inject = [left](log::syscall_site site) {
      return site == log::syscall_site::sync && left->fetch_sub(1) <= 0 ? EIO : 0;
    };
  }
  if (o.durability == log::durability::none)
    k_log.warn("durability none: acknowledged commands survive a process crash but not a power loss");
  // The actor threads allocate from glibc's per-thread arenas, which grow
  // by an mprotect call every page or two by default: loading the
  // checkpoints of a million orders made 225,000 of them. Growing 64 MiB at
  // a time costs address space, not memory (pages are touched as used).
  ::mallopt(M_TOP_PAD, 64 << 20);
  auto started = std::chrono::steady_clock::now();
  auto lock = lock_data(f.data);
  if (!lock)
    return 2;
  auto e = engine::start(o);
  if (!e) {
    k_log.error("cannot start: {}", e.error().message);
    return 2;
  }
  http::server_options so;
  so.address = listen->host;
  so.port = listen->port;
  so.io_threads = s.io_threads;
  so.limits = s.limits;
  so.auth = authority;
  so.cors_origins = s.cors_origins;
  so.tls_cert = s.tls_cert;
  so.tls_key = s.tls_key;
  http::server srv(**e, so);
  if (auto r = srv.start(); !r) {
    k_log.error("cannot {}: {}", r.error().code == http::errc::tls ? "serve TLS" : "listen", r.error().message);
    return 2;
  }
  auto shown = so.address.find(':') == std::string::npos ? so.address : "[" + so.address + "]";
  banner("sluice listening on {}://{}:{}", so.tls_cert.empty() ? "http" : "https", shown, srv.port());
  banner("  data directory: {}", f.data);
  banner("  durability: {}", f.durability);
  banner("  threads: {} actor, {} I/O", o.threads, so.io_threads);
  if (authority)
    banner("  auth: {} tokens from {} (SIGHUP reloads it)", authority->current()->size(), s.auth_file);
  else
    banner("  auth: off (every request is served)");
  if ((*e)->wait_ready(std::chrono::hours(24))) {
    auto took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);
    banner("  recovery: ready in {} ms (log positions {} to {})", took.count(), (*e)->log().first_position(),
           (*e)->log().last_position());
  } else {
    banner("  recovery failed; see the log above (/readyz answers 503)");
  }

  int sig = 0;
  for (;;) {
    sigwait(&stop_signals, &sig);
    if (sig != SIGHUP)
      break;
    if (!authority) {
      k_log.info("SIGHUP: no --auth file to reload");
      continue;
    }
    // A bad file keeps the tokens in force: a typo must not lock everyone out.
    auto t = http::auth::table::load(s.auth_file);
    if (!t) {
      k_log.error("SIGHUP: {}; the tokens loaded before stay in force", t.error());
      continue;
    }
    size_t n = t->size();
    authority->replace(std::make_shared<const http::auth::table>(std::move(*t)));
    k_log.info("SIGHUP: {} tokens reloaded from {}", n, s.auth_file);
  }
  k_log.info("{}: stopping: no new connections, finishing commands in flight", sig == SIGINT ? "SIGINT" : "SIGTERM");
  srv.stop_accepting();
  (*e)->stop(); // answers what is in flight and syncs the log
  srv.stop();
  k_log.info("stopped");
  return 0;
}

} // namespace

namespace sluice::app {

std::string_view version() { return SLUICE_VERSION; }

namespace {

// SLUICE_LISTEN for --listen and so on, for every long flag of every
// subcommand that has no variable of its own; --help shows each.
void add_env_names(CLI::App* a) {
  for (auto* opt : a->get_options()) {
    if (opt->get_lnames().empty() || !opt->get_envname().empty())
      continue; // positional, or named already (SLUICE_TOKEN)
    const auto& name = opt->get_lnames().front();
    if (name == "help" || name == "help-all" || name == "version" || name == "config")
      continue;
    std::string env = "SLUICE_";
    for (char c : name)
      env.push_back(c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
    opt->envname(env);
  }
  for (auto* sub : a->get_subcommands({})) {
    sub->fallthrough(); // --config, --log-level … after the subcommand's name too
    add_env_names(sub);
  }
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
  std::string log_level_name = "info", log_format_name = "text";
  app.add_option("--log-level", log_level_name, "log lines below this level are dropped")
      ->check(CLI::IsMember({"debug", "info", "warn", "error"}))
      ->capture_default_str();
  app.add_option("--log-format", log_format_name, "text, or json: one object per line (time, level, logger, message)")
      ->check(CLI::IsMember({"text", "json"}))
      ->capture_default_str();
  log_flags flags;

  serve_flags sf;
  auto* serve_cmd = app.add_subcommand("serve", "run the server: the HTTP API over the actor engine");
  add_log_flags(serve_cmd, flags);
  serve_cmd->add_option("--listen", sf.listen, "address and port to listen on")->capture_default_str();
  add_number(serve_cmd, "--threads", sf.threads,
             "actor scheduler threads (0: the cores the I/O threads leave, at least 1)", 0u, 1024u);
  serve_cmd->add_option("--io-threads", sf.io_threads, "network I/O threads")
      ->check(CLI::Range(1u, 256u))
      ->capture_default_str();
  serve_cmd->add_option("--shards", sf.shards, "shards per view")->check(CLI::Range(1u, 1024u))->capture_default_str();
  serve_cmd
      ->add_option("--max-in-flight", sf.max_in_flight,
                   "commands in flight before answering 503 overloaded "
                   "(see --max-in-flight-bytes for their bytes)")
      ->check(CLI::Range(size_t{1}, size_t{1} << 30))
      ->capture_default_str();
  serve_cmd->add_option("--max-body-bytes", sf.limits.command_body_bytes, "largest single-command body")
      ->check(CLI::Range(size_t{1}, size_t{1} << 30))
      ->capture_default_str();
  serve_cmd->add_option("--max-batch-bytes", sf.limits.batch_body_bytes, "largest batch body")
      ->check(CLI::Range(size_t{1}, size_t{4} << 30))
      ->capture_default_str();
  serve_cmd->add_option("--max-batch-lines", sf.limits.batch_lines, "most commands in one batch")
      ->check(CLI::Range(size_t{1}, size_t{10'000'000}))
      ->capture_default_str();
  serve_cmd->add_option("--max-header-bytes", sf.limits.header_bytes, "largest request line plus headers")
      ->check(CLI::Range(size_t{1024}, size_t{1} << 20))
      ->capture_default_str();
  serve_cmd->add_option("--idle-timeout", sf.limits.idle_seconds, "seconds before an idle connection is closed")
      ->check(CLI::Range(1u, 86400u))
      ->capture_default_str();
  serve_cmd
      ->add_option("--header-timeout", sf.limits.header_seconds,
                   "seconds from a request's first byte to the end of its headers (slow clients are closed)")
      ->check(CLI::Range(1u, 3600u))
      ->capture_default_str();
  serve_cmd
      ->add_option("--max-in-flight-bytes", sf.limits.body_memory_bytes,
                   "bytes of request bodies held at once across all connections, until answered; "
                   "beyond: 503 overloaded")
      ->check(CLI::Range(size_t{1} << 16, size_t{1} << 40))
      ->capture_default_str();
  add_number(serve_cmd, "--drill-fail-sync-after", sf.drill_fail_sync_after,
             "drill: make the log's fdatasync fail (EIO) after this many succeed (0: never); the server exits 74",
             uint64_t{0}, uint64_t{1} << 40)
      ->group("Drills");
  serve_cmd
      ->add_option("--drill-fail-view", sf.drill_fail_views,
                   "drill: VIEW=PREFIX makes VIEW's projector fail on every event whose key starts with PREFIX "
                   "(the events are parked in its error log); repeatable. Restarting without it is the fix")
      ->group("Drills");
  serve_cmd
      ->add_flag("--drill-slow-build", sf.drill_slow_build,
                 "drill: view builds read 16 events at a time and pause 20 ms after each (800 events/s), to act "
                 "in the middle of one")
      ->group("Drills");
  serve_cmd
      ->add_option("--drill-delay-process", sf.drill_delay_processes,
                   "drill: PROCESS=MS makes the process manager wait MS milliseconds before each step it takes "
                   "(transfers=200); repeatable")
      ->group("Drills");
  serve_cmd
      ->add_flag("--keep-parked", sf.keep_parked,
                 "keys parked in a view's error log stay parked at start instead of being retried once")
      ->group("Views");
  serve_cmd
      ->add_option("--pipeline-depth", sf.limits.pipeline_depth, "requests read ahead of their answers per connection")
      ->check(CLI::Range(size_t{1}, size_t{1024}))
      ->capture_default_str();
  serve_cmd
      ->add_option("--auth", sf.auth_file,
                   "JSON file of bearer tokens and their grants (docs/security.md; `sluice token new` makes entries); "
                   "SIGHUP reloads it")
      ->check(CLI::ExistingFile)
      ->group("Access");
  serve_cmd->add_flag("--insecure", sf.insecure, "listen on a non-loopback address without --auth")->group("Access");
  serve_cmd
      ->add_option("--cors-origin", sf.cors_origins,
                   "an origin (scheme://host[:port]) whose pages may call the API and open streams; repeatable; "
                   "'*' for any")
      ->group("Access");
  auto* cert_opt = serve_cmd
                       ->add_option("--tls-cert", sf.tls_cert,
                                    "PEM certificate chain: serve HTTPS and WSS (TLS 1.2 or later) on --listen")
                       ->check(CLI::ExistingFile)
                       ->group("Access");
  auto* key_opt = serve_cmd->add_option("--tls-key", sf.tls_key, "PEM private key of --tls-cert")
                      ->check(CLI::ExistingFile)
                      ->group("Access");
  cert_opt->needs(key_opt);
  key_opt->needs(cert_opt);
  auto duration_check = CLI::Validator(
      [](std::string& v) {
        auto d = parse_duration(v);
        return d ? std::string() : d.error();
      },
      "DURATION");
  serve_cmd
      ->add_option("--passivate-after", sf.passivate_after,
                   "an aggregate without a command for this long leaves memory, but for an index entry (0: never "
                   "for idleness); seconds, or 90s, 15m, 12h, 30d")
      ->check(duration_check)
      ->capture_default_str()
      ->group("Memory and restart");
  serve_cmd
      ->add_option("--max-live-aggregates", sf.max_live_aggregates,
                   "live aggregate actors at most: beyond, the least recently used leave memory (within a second)")
      ->check(CLI::Range(size_t{1}, size_t{1} << 40))
      ->capture_default_str()
      ->group("Memory and restart");
  add_number(serve_cmd, "--snapshot-every", sf.snapshot_every,
             "snapshot an aggregate every this many events (0: only when it passivates), under <data>/snapshots",
             uint64_t{0}, uint64_t{1} << 32)
      ->group("Memory and restart");
  serve_cmd
      ->add_flag("--no-snapshots", sf.no_snapshots,
                 "take no snapshots and use none: aggregates come back from the log alone")
      ->group("Memory and restart");
  auto size_check = CLI::Validator(
      [](std::string& v) {
        auto n = parse_size(v);
        return n ? std::string() : n.error();
      },
      "SIZE");
  add_number(serve_cmd, "--checkpoint-every", sf.checkpoint_every,
             "checkpoint each view shard and the history index every this many events, and at least 4 per "
             "key it holds (0: only at a graceful stop), under <data>/checkpoints; start-up replays only the "
             "log after them",
             uint64_t{0}, uint64_t{1} << 40)
      ->group("Memory and restart");
  serve_cmd
      ->add_flag("--no-checkpoints", sf.no_checkpoints,
                 "write no checkpoints and load none: start-up replays the whole log")
      ->group("Memory and restart");
  serve_cmd
      ->add_option("--segment-bytes", sf.segment_bytes,
                   "a log segment is closed at this size (retention deletes whole segments); bytes, or 512MiB")
      ->check(size_check)
      ->capture_default_str()
      ->group("Retention");
  auto* retain_all =
      serve_cmd->add_option("--retain", sf.retain, "'all': keep the whole log (the default; see the limits below)")
          ->check(CLI::IsMember({"all"}))
          ->capture_default_str()
          ->group("Retention");
  serve_cmd
      ->add_option("--retain-bytes", sf.retain_bytes,
                   "delete the oldest closed segments beyond the newest that add up to this size; bytes, or 20GiB")
      ->check(size_check)
      ->excludes(retain_all)
      ->group("Retention");
  serve_cmd
      ->add_option("--retain-age", sf.retain_age,
                   "delete closed segments whose last event is older than this; seconds, or 12h, 30d")
      ->check(duration_check)
      ->excludes(retain_all)
      ->group("Retention");

  auto* exec_cmd = app.add_subcommand(
      "exec", "apply NDJSON commands from stdin; print one result per line (not while a server runs on --data)");
  add_log_flags(exec_cmd, flags);

  uint64_t from = 1, limit = UINT64_MAX;
  auto* events_cmd = app.add_subcommand(
      "events", "print the event log as NDJSON Event JSON (reads only: beside a running server, what is durable)");
  add_log_flags(events_cmd, flags);
  add_number(events_cmd, "--from", from, "first position", uint64_t{1}, uint64_t{UINT64_MAX});
  add_number(events_cmd, "--limit", limit, "most events to print", uint64_t{0}, uint64_t{UINT64_MAX});

  CLI::App* demo_cmd = nullptr;
  if (!p.demo_script.empty()) {
    demo_cmd = app.add_subcommand("demo", std::string(p.demo_help));
    add_log_flags(demo_cmd, flags);
  }

  std::string check_dir;
  auto* check_cmd = app.add_subcommand("check",
                                       "verify a data directory's event log offline and report each "
                                       "damaged record (exit 1 if start-up would refuse it)");
  check_cmd->add_option("data", check_dir, "data directory")->required();
  std::string repair_dir;
  auto* repair_cmd = app.add_subcommand("repair",
                                        "cut the event log at its first damage, copying what is cut "
                                        "into DATA/repair-<time>/ (not while a server runs on DATA)");
  repair_cmd->add_option("data", repair_dir, "data directory")->required();

  std::string token_name;
  std::vector<std::string> token_grants;
  auto* token_cmd = app.add_subcommand("token", "bearer tokens for --auth");
  token_cmd->require_subcommand(1);
  auto* token_new_cmd = token_cmd->add_subcommand(
      "new", "print a new random token (256 bits from the OS), then its JSON entry for the --auth file");
  token_new_cmd->add_option("name", token_name, "the token's name (in the auth file and its errors)")->required();
  token_new_cmd
      ->add_option("--grant", token_grants,
                   "commands:<type>, commands:*, views:<view>, views:*, events, metrics or admin; repeatable")
      ->required();

  views_cli_options vo;
  auto* views_cmd = app.add_subcommand("views", "a running server's views: versions and builds, through its admin API");
  views_cmd->require_subcommand(1);
  auto views_flags = [&](CLI::App* c) {
    c->add_option("--server", vo.server, "the server's URL")->capture_default_str();
    c->add_option("--token", vo.token, "bearer token with the admin grant (SLUICE_TOKEN if unset)")
        ->envname("SLUICE_TOKEN");
    c->add_option("--ca-file", vo.ca_file,
                  "https://: check the server's certificate against this PEM (default: "
                  "the system's CAs)");
    c->add_flag("--json", vo.json, "print the server's JSON instead of a table");
  };
  auto* views_list =
      views_cmd->add_subcommand("list", "every defined version of every view: state, position, lag, build");
  views_flags(views_list);
  auto* views_rebuild =
      views_cmd->add_subcommand("rebuild", "rebuild the serving version of VIEW from the log's start, then swap it in");
  views_rebuild->add_option("view", vo.view, "the view")->required();
  views_flags(views_rebuild);
  auto* views_errors = views_cmd->add_subcommand("errors", "the error log of VIEW: each parked key, why, since when");
  views_errors->add_option("view", vo.view, "the view")->required();
  views_flags(views_errors);
  auto* views_replay =
      views_cmd->add_subcommand("replay", "retry VIEW's parked sequences (every key, or --key), in position order");
  views_replay->add_option("view", vo.view, "the view")->required();
  views_replay->add_option("--key", vo.key, "only this key");
  views_flags(views_replay);
  auto* views_skip = views_cmd->add_subcommand(
      "skip", "drop the parked events of --key from VIEW's error log (the key keeps its last good value)");
  views_skip->add_option("view", vo.view, "the view")->required();
  views_skip->add_option("--key", vo.key, "the key")->required();
  views_flags(views_skip);

  add_env_names(&app);
  if (int status = parse_or_exit(app, argc, argv); status >= 0)
    return status;
  logger::set_level(log_level_name == "debug"   ? log_level::debug
                    : log_level_name == "warn"  ? log_level::warn
                    : log_level_name == "error" ? log_level::error
                                                : log_level::info);
  logger::set_format(log_format_name == "json" ? log_format::json : log_format::text);
  try {
    if (*serve_cmd)
      return serve(flags, m, sf);
    if (*exec_cmd)
      return exec(flags, m, std::cin);
    if (*events_cmd)
      return events(flags, m, from, limit);
    if (*check_cmd)
      return check(check_dir);
    if (*token_cmd)
      return token_new(token_name, token_grants);
    if (*repair_cmd)
      return repair(repair_dir);
    if (*views_cmd) {
      vo.action = *views_list      ? "list"
                  : *views_rebuild ? "rebuild"
                  : *views_errors  ? "errors"
                  : *views_replay  ? "replay"
                                   : "skip";
      return views_cli(vo);
    }
    if (demo_cmd && *demo_cmd) {
      std::istringstream script{std::string(p.demo_script)};
      std::cout << "# commands in, one result per line:\n";
      return exec(flags, m, script);
    }
  } catch (const std::exception& e) {
    k_log.error("{}", e.what());
    return 2;
  }
  return 0;
}

} // namespace sluice::app
