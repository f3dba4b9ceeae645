#include "http/prometheus.h"

#include <fmt/format.h>

#include <sys/resource.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <filesystem>
#include <chrono>
#include <fstream>
#include <sstream>
#include <string>

namespace sluice::http {

namespace {

std::array<std::atomic<uint64_t>, 600> g_responses{}; // by status code

// What Prometheus' client libraries call the process metrics, from /proc.
struct process_figures {
  uint64_t resident_bytes = 0;
  double cpu_seconds = 0;
  uint64_t open_fds = 0;
  double start_time_seconds = 0;
};

process_figures read_process() {
  process_figures p;
  std::ifstream statm("/proc/self/statm");
  uint64_t size = 0, resident = 0;
  if (statm >> size >> resident)
    p.resident_bytes = resident * static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
  rusage ru{};
  if (::getrusage(RUSAGE_SELF, &ru) == 0)
    p.cpu_seconds = static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
                    static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
  std::error_code ec;
  for (auto it = std::filesystem::directory_iterator("/proc/self/fd", ec); !ec && it != std::filesystem::end(it);
       it.increment(ec))
    ++p.open_fds;
  if (p.open_fds > 0)
    --p.open_fds; // the iterator's own descriptor
  // Field 22 of /proc/self/stat: start time in clock ticks after boot.
  std::ifstream stat("/proc/self/stat");
  std::string line;
  std::getline(stat, line);
  auto close = line.rfind(')');
  std::ifstream uptime_file("/proc/uptime");
  double uptime = 0;
  if (close != std::string::npos && uptime_file >> uptime) {
    std::istringstream rest(line.substr(close + 2));
    std::string field;
    for (int i = 3; i <= 22 && rest >> field; ++i)
      if (i == 22) {
        double since_boot = std::stod(field) / static_cast<double>(::sysconf(_SC_CLK_TCK));
        auto now = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
        p.start_time_seconds = now - uptime + since_boot;
      }
  }
  return p;
}

class exposition {
 public:
  explicit exposition(std::string& out) : out_(out) {}

  void header(std::string_view name, std::string_view type, std::string_view help) {
    fmt::format_to(it(), "# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
  }
  void counter(std::string_view name, std::string_view help, uint64_t v) {
    header(name, "counter", help);
    fmt::format_to(it(), "{} {}\n", name, v);
  }
  void gauge(std::string_view name, std::string_view help, uint64_t v) {
    header(name, "gauge", help);
    fmt::format_to(it(), "{} {}\n", name, v);
  }
  void histogram(std::string_view name, std::string_view help, const duration_histogram::counts& c) {
    header(name, "histogram", help);
    uint64_t cumulative = 0;
    for (size_t i = 0; i < duration_histogram::k_bounds_ns.size(); ++i) {
      cumulative += c.buckets[i];
      fmt::format_to(it(), "{}_bucket{{le=\"{}\"}} {}\n", name,
                     static_cast<double>(duration_histogram::k_bounds_ns[i]) / 1e9, cumulative);
    }
    fmt::format_to(it(), "{}_bucket{{le=\"+Inf\"}} {}\n{}_sum {}\n{}_count {}\n", name, c.count, name,
                   static_cast<double>(c.sum_ns) / 1e9, name, c.count);
  }

 private:
  std::back_insert_iterator<std::string> it() { return std::back_inserter(out_); }
  std::string& out_;
};

// The steps of render_metrics, one per subject, in the order they are exposed.

void write_command_metrics(exposition& x, std::string& out, const engine::metrics& m) {
  x.header("sluice_commands_total", "counter", "Commands answered, by result.");
  for (auto [result, v] : {std::pair<const char*, uint64_t>{"ok", m.commands_ok},
                           {"rejected", m.commands_rejected},
                           {"conflict", m.commands_conflict},
                           {"invalid", m.commands_invalid},
                           {"duplicate", m.commands_duplicate},
                           {"overloaded", m.commands_overloaded}})
    fmt::format_to(std::back_inserter(out), "sluice_commands_total{{result=\"{}\"}} {}\n", result, v);
  x.histogram("sluice_command_duration_seconds", "Commands from receipt by the engine to their answer.",
              m.command_duration);
}

void write_log_metrics(exposition& x, const engine::metrics& m) {
  x.counter("sluice_events_appended_total", "Events made durable in the event log.", m.events_appended);
  x.counter("sluice_log_syncs_total", "fdatasync calls of the event log (one per group commit).", m.log_syncs);
  x.histogram("sluice_log_sync_duration_seconds", "Duration of a group commit's fdatasync.", m.log_sync_duration);
  x.gauge("sluice_log_position", "Position of the last durable event.", m.log_position);
  x.gauge("sluice_log_first_position", "First position still in the log (retention deletes older segments).",
          m.log_first_position);
  x.gauge("sluice_recovery_events", "Events the last start-up replayed (after the checkpoints it loaded).",
          m.recovery_events);
  x.counter("sluice_retention_deleted_bytes_total", "Bytes of log segments deleted by retention.",
            m.retention_deleted_bytes);
  if (m.cluster) { // SPEC §14
    x.gauge("sluice_cluster_partitions_owned", "Partitions this node writes.", m.cluster->partitions_owned);
    x.counter("sluice_cluster_lease_changes_total", "Changes of a partition's owner this node has read in the stream.",
              m.cluster->lease_changes);
    x.counter("sluice_cluster_fenced_total",
              "Groups of this node refused because another node owned or appended first.", m.cluster->fenced);
    x.histogram("sluice_cluster_publish_duration_seconds",
                "From a group's publish to JetStream until it is read back from the stream (a quorum stored it).",
                m.log_sync_duration);
    x.counter("sluice_cluster_foreign_events_total", "Events other nodes appended that this node's views applied.",
              m.cluster->foreign_events);
  }
}

void write_view_metrics(exposition& x, std::string& out, const engine::metrics& m) {
  x.header("sluice_view_position", "gauge", "Position every shard of the view has applied.");
  for (auto& [view, position] : m.view_positions)
    fmt::format_to(std::back_inserter(out), "sluice_view_position{{view=\"{}\"}} {}\n", view, position);
  x.header("sluice_view_lag_events", "gauge", "Events of the log the serving version has not applied yet.");
  for (auto& v : m.views)
    fmt::format_to(std::back_inserter(out), "sluice_view_lag_events{{view=\"{}\"}} {}\n", v.view, v.lag);
  x.header("sluice_view_parked_events", "gauge", "Events in the view's error log.");
  for (auto& v : m.views)
    fmt::format_to(std::back_inserter(out), "sluice_view_parked_events{{view=\"{}\"}} {}\n", v.view, v.parked);
  x.header("sluice_view_build_position", "gauge", "Position a build of the view version has read the log to.");
  for (auto& v : m.views)
    for (auto& [version, position] : v.builds)
      fmt::format_to(std::back_inserter(out), "sluice_view_build_position{{view=\"{}\",version=\"{}\"}} {}\n", v.view,
                     version, position);
  x.header("sluice_view_rebuilds_total", "counter", "Builds of the view that caught up and took over.");
  for (auto& v : m.views)
    fmt::format_to(std::back_inserter(out), "sluice_view_rebuilds_total{{view=\"{}\"}} {}\n", v.view, v.rebuilds);
}

void write_process_manager_metrics(exposition& x, std::string& out, const engine::metrics& m) {
  x.header("sluice_process_unfinished", "gauge", "Instances of the process manager not yet ended.");
  for (auto& p : m.processes)
    fmt::format_to(std::back_inserter(out), "sluice_process_unfinished{{process=\"{}\"}} {}\n", p.name, p.unfinished);
  x.header("sluice_process_commands_total", "counter",
           "Commands the process manager sent, by answer (retried: no decision, sent again).");
  for (auto& p : m.processes)
    for (auto [result, n] : {std::pair<std::string_view, uint64_t>{"accepted", p.accepted},
                             {"duplicate", p.duplicate},
                             {"rejected", p.rejected},
                             {"conflict", p.conflict},
                             {"retried", p.retried}})
      fmt::format_to(std::back_inserter(out), "sluice_process_commands_total{{process=\"{}\",result=\"{}\"}} {}\n",
                     p.name, result, n);
}

// Aggregates in memory, and the snapshots and checkpoints that spare replaying the log.
void write_aggregate_metrics(exposition& x, const engine::metrics& m) {
  x.gauge("sluice_aggregates_live", "Aggregates with a live actor.", m.aggregates_live);
  x.gauge("sluice_aggregates_known", "Aggregates with events in the log, live or passivated.", m.aggregates_known);
  x.counter("sluice_aggregate_activations_total", "Aggregates with history brought back into memory.", m.activations);
  x.counter("sluice_aggregate_passivations_total", "Aggregate actors stopped for idleness or the live cap.",
            m.passivations);
  x.counter("sluice_memory_trims_total",
            "Times the memory passivated aggregates freed was handed back to the kernel (malloc_trim).",
            m.memory_trims);
  x.counter("sluice_snapshots_written_total", "Aggregate snapshots written.", m.snapshots_written);
  x.counter("sluice_checkpoints_written_total", "View shard and history index checkpoints written.",
            m.checkpoints_written);
  x.counter("sluice_checkpoints_rejected_total",
            "Checkpoints read and refused (torn, checksum, changed layout, not matching the log).",
            m.checkpoints_rejected);
  x.counter("sluice_snapshots_rejected_total",
            "Aggregate snapshots read and refused (torn, checksum, changed state layout, not matching the log).",
            m.snapshots_rejected);
}

// Queued commands, access control, WebSocket streams and HTTP responses.
void write_front_metrics(exposition& x, std::string& out, const engine::metrics& m, const front_metrics& f) {
  x.gauge("sluice_command_bus_depth", "Commands queued on the command bus, not yet taken by the router.",
          m.command_bus_depth);
  x.gauge("sluice_commands_in_flight", "Commands accepted for processing and not yet answered.", m.in_flight);
  x.header("sluice_auth_denied_total", "counter",
           "Requests, batch lines, stream upgrades and subscribes refused by access control.");
  fmt::format_to(std::back_inserter(out), "sluice_auth_denied_total{{reason=\"unauthorized\"}} {}\n",
                 f.denied_unauthorized);
  fmt::format_to(std::back_inserter(out), "sluice_auth_denied_total{{reason=\"forbidden\"}} {}\n", f.denied_forbidden);
  x.gauge("sluice_ws_sessions", "Open WebSocket sessions.", f.ws_sessions);
  x.counter("sluice_ws_messages_sent_total", "WebSocket messages written to clients.", f.ws_messages_sent);
  x.counter("sluice_ws_changes_conflated_total",
            "View changes replaced by a newer change of the same key before they were sent.", f.ws_changes_conflated);
  x.header("sluice_http_requests_total", "counter", "HTTP responses written, by status code (101: stream upgrades).");
  for (auto [code, n] : http_responses())
    fmt::format_to(std::back_inserter(out), "sluice_http_requests_total{{code=\"{}\"}} {}\n", code, n);
}

// The running build, and the process figures Prometheus' client libraries expose.
void write_runtime_metrics(exposition& x, std::string& out) {
  x.header("sluice_build_info", "gauge", "The running build: always 1, its version as a label.");
  fmt::format_to(std::back_inserter(out), "sluice_build_info{{version=\"{}\"}} 1\n", SLUICE_VERSION);
  auto p = read_process();
  x.gauge("process_resident_memory_bytes", "Resident memory size in bytes.", p.resident_bytes);
  x.header("process_cpu_seconds_total", "counter", "User and system CPU time spent, in seconds.");
  fmt::format_to(std::back_inserter(out), "process_cpu_seconds_total {:.3f}\n", p.cpu_seconds);
  x.gauge("process_open_fds", "Open file descriptors.", p.open_fds);
  x.header("process_start_time_seconds", "gauge", "Start time of the process since the Unix epoch, in seconds.");
  fmt::format_to(std::back_inserter(out), "process_start_time_seconds {:.2f}\n", p.start_time_seconds);
}

} // namespace

std::string render_metrics(const engine::metrics& m, const front_metrics& f) {
  std::string out;
  exposition x(out);
  write_command_metrics(x, out, m);
  write_log_metrics(x, m);
  write_view_metrics(x, out, m);
  write_process_manager_metrics(x, out, m);
  write_aggregate_metrics(x, m);
  write_front_metrics(x, out, m, f);
  write_runtime_metrics(x, out);
  return out;
}

std::vector<std::pair<unsigned, uint64_t>> http_responses() {
  std::vector<std::pair<unsigned, uint64_t>> out;
  for (unsigned code = 100; code < g_responses.size(); ++code)
    if (auto n = g_responses[code].load(std::memory_order_relaxed); n > 0)
      out.emplace_back(code, n);
  return out;
}

std::string_view build_version() { return SLUICE_VERSION; }

void count_http_response(unsigned status) {
  if (status < g_responses.size())
    g_responses[status].fetch_add(1, std::memory_order_relaxed);
}

} // namespace sluice::http
