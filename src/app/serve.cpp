// `sluice serve`: the flags made into the engine's and the server's
// options, then the server run until SIGINT or SIGTERM.
#include "app/subcommands.h"

#include "base/host_port.h"
#include "base/logger.h"
#include "base/units.h"
#include "engine/engine.h"
#include "http/server.h"

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <malloc.h>
#include <pthread.h>
#include <regex>
#include <thread>

namespace sluice::app {

namespace {

constexpr logger k_log("sluice");

/// The exit status after a failed fdatasync (EX_IOERR): a supervisor restarts.
constexpr int k_exit_sync_failed = 74;

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

// The token table of --auth; a null authority without it. Refuses a
// non-loopback address without --auth unless --insecure.
std::expected<std::shared_ptr<http::auth::authority>, int> authority_of(const serve_flags& s, const host_port& at) {
  if (s.auth_file.empty()) {
    if (is_loopback(at.host) || s.insecure)
      return nullptr;
    k_log.error(
        "refusing to listen on {} without --auth: anyone who reaches it could send any command and read "
        "every view (--insecure to do it anyway, e.g. behind a proxy that checks access)",
        s.listen);
    return std::unexpected(2);
  }
  auto t = http::auth::table::load(s.auth_file);
  if (!t) {
    k_log.error("--auth {}", t.error());
    return std::unexpected(2);
  }
  return std::make_shared<http::auth::authority>(std::make_shared<const http::auth::table>(std::move(*t)));
}

// --drill-fail-view VIEW=PREFIX and --drill-delay-process PROCESS=MS,
// checked against the model; false (logged) for a bad one.
bool add_drills(const serve_flags& s, const domain::model& m, engine::options& o) {
  for (auto& d : s.drill_fail_views) {
    auto eq = d.find('=');
    auto view = d.substr(0, eq);
    if (eq == std::string::npos || std::ranges::none_of(m.views(), [&](auto& v) { return v.name == view; })) {
      k_log.error("--drill-fail-view {}: expected VIEW=PREFIX with a view this server serves", d);
      return false;
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
      return false;
    }
    k_log.warn("drill: process {} waits {} ms before each step", name, ms);
    o.drill_delay_processes.emplace_back(name, std::chrono::milliseconds(ms));
  }
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
  return true;
}

// --cluster, --node, --partitions: false (logged) when they cannot run.
bool cluster_options(const serve_flags& s, engine::options& o) {
  static const std::regex k_node_name("[a-z0-9_-]{1,64}");
  if (!std::regex_match(s.node, k_node_name)) {
    k_log.error("--cluster needs --node NAME: 1-64 of a-z 0-9 _ - (got \"{}\")", s.node);
    return false;
  }
  for (size_t at = 0; at <= s.cluster.size();) {
    auto comma = std::min(s.cluster.find(',', at), s.cluster.size());
    if (comma > at)
      o.cluster_servers.push_back(s.cluster.substr(at, comma - at));
    at = comma + 1;
  }
  o.node = s.node;
  o.partitions = s.partitions;
  return true;
}

// The engine's options from the flags; nullopt (logged) for a combination
// that cannot run.
std::optional<engine::options> engine_options(const log_flags& f, const domain::model& m, const serve_flags& s) {
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
  o.segment_bytes = s.segment_bytes;
  if (!s.cluster.empty() && !cluster_options(s, o))
    return std::nullopt;
  o.retain_bytes = s.retain_bytes;
  if (!s.retain_age.empty())
    o.retain_age = std::chrono::duration_cast<std::chrono::seconds>(*parse_duration(s.retain_age));
  if ((o.retain_bytes > 0 || o.retain_age.count() > 0) && (!o.snapshots || !o.checkpoints)) {
    k_log.error(
        "--retain-bytes and --retain-age need snapshots and checkpoints (the log they replace is deleted): "
        "drop --no-snapshots / --no-checkpoints");
    return std::nullopt;
  }
  // A failed fdatasync may have lost acknowledged-to-be data in the page
  // cache: stop here, and let recovery read what is really on disk.
  o.on_sync_failure = [](const log::error& err) {
    k_log.error("{}: exiting; restart to recover from what the disk holds", err.message);
    std::_Exit(k_exit_sync_failed);
  };
  o.keep_parked = s.keep_parked;
  if (!add_drills(s, m, o))
    return std::nullopt;
  if (o.durability == log::durability::none)
    k_log.warn("durability none: acknowledged commands survive a process crash but not a power loss");
  return o;
}

http::server_options server_options(const serve_flags& s, const host_port& at,
                                    std::shared_ptr<http::auth::authority> authority) {
  http::server_options so;
  so.address = at.host;
  so.port = at.port;
  so.io_threads = s.io_threads;
  so.limits = s.limits;
  so.auth = std::move(authority);
  so.cors_origins = s.cors_origins;
  so.tls_cert = s.tls_cert;
  so.tls_key = s.tls_key;
  return so;
}

void print_banner(const log_flags& f, const serve_flags& s, const engine::options& o, const http::server_options& so,
                  const http::server& srv, const http::auth::authority* authority) {
  auto shown = so.address.find(':') == std::string::npos ? so.address : "[" + so.address + "]";
  banner("sluice listening on {}://{}:{}", so.tls_cert.empty() ? "http" : "https", shown, srv.port());
  banner("  data directory: {}", f.data);
  if (!s.cluster.empty())
    banner("  cluster: node {} on {} (the events in JetStream; {}/cluster-log mirrors them)", s.node, s.cluster,
           f.data);
  else
    banner("  durability: {}", f.durability);
  banner("  threads: {} actor, {} I/O", o.threads, so.io_threads);
  if (authority)
    banner("  auth: {} tokens from {} (SIGHUP reloads it)", authority->current()->size(), s.auth_file);
  else
    banner("  auth: off (every request is served)");
}

// Waits for SIGINT or SIGTERM; SIGHUP meanwhile reloads --auth. Returns the signal.
int wait_for_stop(const sigset_t& signals, const serve_flags& s, http::auth::authority* authority) {
  int sig = 0;
  for (;;) {
    sigwait(&signals, &sig);
    if (sig != SIGHUP)
      return sig;
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
}

} // namespace

int serve(const log_flags& f, const domain::model& m, const serve_flags& s) {
  auto listen = parse_host_port(s.listen);
  if (!listen) {
    k_log.error("--listen {}", listen.error());
    return 2;
  }
  auto authority = authority_of(s, *listen);
  if (!authority)
    return authority.error();
  // SIGINT/SIGTERM/SIGHUP are taken by sigwait below; block them before any thread starts.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  auto o = engine_options(f, m, s);
  if (!o)
    return 2;
  // The actor threads allocate from glibc's per-thread arenas, which grow
  // by an mprotect call every page or two by default: loading the
  // checkpoints of a million orders made 225,000 of them. Growing 64 MiB at
  // a time costs address space, not memory (pages are touched as used).
  ::mallopt(M_TOP_PAD, 64 << 20);
  auto started = std::chrono::steady_clock::now();
  auto lock = lock_data(f.data);
  if (!lock)
    return 2;
  auto e = engine::start(*o);
  if (!e) {
    k_log.error("cannot start: {}", e.error().message);
    return 2;
  }
  auto so = server_options(s, *listen, *authority);
  http::server srv(**e, so);
  if (auto r = srv.start(); !r) {
    k_log.error("cannot {}: {}", r.error().code == http::errc::tls ? "serve TLS" : "listen", r.error().message);
    return 2;
  }
  print_banner(f, s, *o, so, srv, authority->get());
  if ((*e)->wait_ready(std::chrono::hours(24))) {
    auto took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);
    banner("  recovery: ready in {} ms (log positions {} to {})", took.count(), (*e)->log().first_position(),
           (*e)->log().last_position());
  } else {
    banner("  recovery failed; see the log above (/readyz answers 503)");
  }
  int sig = wait_for_stop(stop_signals, s, authority->get());
  k_log.info("{}: stopping: no new connections, finishing commands in flight", sig == SIGINT ? "SIGINT" : "SIGTERM");
  srv.stop_accepting();
  (*e)->stop(); // answers what is in flight and syncs the log
  srv.stop();
  k_log.info("stopped");
  return 0;
}

} // namespace sluice::app
