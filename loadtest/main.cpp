// sluice-load: the load driver. See driver.h for the workloads and
// loadtest/README.md for how the numbers in bench/RESULTS.md were made.
#include "app/command_line.h"
#include "driver.h"
#include "html_report.h"

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string_view>
#include <vector>

namespace {

// sluice-load report A.json [B.json …] -o report.html
int report_command(int argc, char** argv) {
  std::vector<std::string> files;
  std::string out_path = "report.html";
  CLI::App app{"sluice-load report: one HTML page of the --json reports of several runs, side by side",
               "sluice-load report"};
  app.add_option("reports", files, "JSON reports written by sluice-load --json")->required()->check(CLI::ExistingFile);
  app.add_option("-o,--output", out_path, "the HTML file to write")->capture_default_str();
  if (int status = sluice::app::parse_or_exit(app, argc, argv); status >= 0)
    return status;
  std::vector<std::pair<std::string, std::string>> runs;
  for (auto& f : files) {
    std::ifstream in(f);
    std::string text{std::istreambuf_iterator<char>(in), {}};
    if (!in && !in.eof()) {
      fmt::print(stderr, "cannot read {}\n", f);
      return 2;
    }
    runs.emplace_back(std::filesystem::path(f).stem().string(), std::move(text));
  }
  auto page = sluice::load::html_report(runs);
  if (!page) {
    fmt::print(stderr, "sluice-load report: {}\n", page.error());
    return 2;
  }
  std::ofstream out(out_path);
  out << *page;
  if (!out) {
    fmt::print(stderr, "cannot write {}\n", out_path);
    return 2;
  }
  fmt::print("wrote {} ({} runs)\n", out_path, runs.size());
  return 0;
}

using namespace sluice::load;

// Where the server is and how to reach it.
void add_server_flags(CLI::App& app, options& opt) {
  app.add_option("--url", opt.url, "server to drive (http://host:port)")->capture_default_str();
  app.add_option("--token", opt.token,
                 "bearer token for every request and stream (a server with --auth); SLUICE_TOKEN if unset")
      ->envname("SLUICE_TOKEN");
  app.add_option("--ca-file", opt.ca_file,
                 "https://: verify the server's certificate against this PEM file (without it the driver does not "
                 "verify: it measures)");
}

// How many connections, subscribers and threads, and how deep the pipeline.
void add_connection_flags(CLI::App& app, options& opt) {
  app.add_option("-c,--connections", opt.connections, "HTTP connections for commands (for query: for reads)")
      ->check(CLI::Range(1u, 100'000u))
      ->capture_default_str();
  app.add_option("--query-connections", opt.query_connections, "mixed: HTTP connections for view reads")
      ->check(CLI::Range(0u, 100'000u))
      ->capture_default_str();
  app.add_option("-s,--subscribers", opt.subscribers, "WebSocket subscribers (subscribe, mixed, e2e)")
      ->check(CLI::Range(0u, 100'000u))
      ->capture_default_str();
  app.add_option("-t,--threads", opt.threads, "I/O threads of the driver")
      ->check(CLI::Range(1u, 256u))
      ->capture_default_str();
  app.add_option("-p,--pipeline", opt.pipeline, "requests in flight per connection (HTTP pipelining)")
      ->check(CLI::Range(1u, 1024u))
      ->capture_default_str();
}

// What is sent, how fast and for how long.
void add_workload_flags(CLI::App& app, options& opt, std::string& mix) {
  app.add_option("--items", opt.items, "add_item commands per new order (create)")
      ->check(CLI::Range(0u, 1000u))
      ->capture_default_str();
  app.add_option("-b,--batch-size", opt.batch_size, "commands per batch (batch, create: whole orders, at least one)")
      ->check(CLI::Range(1u, 100'000u))
      ->capture_default_str();
  app.add_option("-d,--duration", opt.duration, "seconds to measure, after the warm-up")
      ->check(CLI::Range(0.1, 86'400.0))
      ->capture_default_str();
  app.add_option("-n,--count", opt.count, "send exactly this many requests instead (no warm-up)");
  app.add_option("-r,--rate", opt.rate,
                 "open loop: requests/s per kind of request, latency measured from the intended send time; "
                 "0: closed loop")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  app.add_option("--zipf", opt.zipf, "key skew (0.99 is typical); 0: uniform")
      ->check(CLI::Range(0.0, 10.0))
      ->capture_default_str();
  app.add_option("-a,--aggregates", opt.aggregates, "aggregates per domain, created before the clock starts")
      ->check(CLI::Range(uint64_t{1}, uint64_t{100'000'000}))
      ->capture_default_str();
  app.add_option("--mix", mix, "weights orders:accounts of the commands and reads")->capture_default_str();
  app.add_option("-w,--warmup", opt.warmup, "seconds run but not measured")
      ->check(CLI::Range(0.0, 3600.0))
      ->capture_default_str();
}

// What happens around the run: setup, verification, progress, output.
void add_run_flags(CLI::App& app, options& opt, std::string& json_path, std::string& template_path) {
  app.add_flag("!--no-setup", opt.setup, "do not create aggregates first (e.g. against a canned server)");
  app.add_flag("--verify", opt.verify,
               "afterwards, check every acknowledged command's event in /v1/events and the views");
  app.add_flag("!--quiet", opt.progress, "no progress line each second");
  app.add_option("--json", json_path, "also write the report as JSON to this file");
  app.add_option("--run-id", opt.run_id, "prefix of the ids the run creates (random if not given)");
  app.add_option("--template", template_path,
                 "ingest, batch: send the commands of this file (any domain; see loadtest/README.md) instead of "
                 "the built-in order and account commands; --verify then checks the log only")
      ->check(CLI::ExistingFile);
}

// The parsed flags that need more than CLI11's checks, into `opt`; false (after saying why) when one is wrong.
bool resolve_options(options& opt, const std::string& workload_name, const std::string& workloads_help,
                     const std::string& template_path, const std::string& mix) {
  auto kind = parse_workload(workload_name);
  if (!kind) {
    fmt::print(stderr, "unknown workload '{}'\n{}\n", workload_name, workloads_help);
    return false;
  }
  opt.kind = *kind;
  if (!template_path.empty()) {
    auto t = command_template::load(template_path);
    if (!t) {
      fmt::print(stderr, "--template {}\n", t.error());
      return false;
    }
    opt.tmpl = std::make_shared<const command_template>(std::move(*t));
  }
  unsigned orders = 0, accounts = 0;
  if (std::sscanf(mix.c_str(), "%u:%u", &orders, &accounts) != 2 || orders + accounts == 0) {
    fmt::print(stderr, "--mix {}: expected ORDERS:ACCOUNTS weights, e.g. 1:1\n", mix);
    return false;
  }
  opt.orders_weight = orders;
  opt.accounts_weight = accounts;
  return true;
}

void stop_on_signals(options& opt) {
  // Ctrl-C or SIGTERM ends the run early with a report of what was
  // measured; a second one ends the process at once.
  static std::atomic<bool> interrupted{false};
  auto on_signal = [](int sig) {
    if (interrupted.exchange(true)) {
      std::signal(sig, SIG_DFL);
      std::raise(sig);
    }
  };
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  opt.interrupt = &interrupted;
}

int run_and_report(const options& opt, const std::string& json_path) {
  report r;
  try {
    r = run(opt);
  } catch (const std::exception& e) {
    fmt::print(stderr, "sluice-load: {}\n", e.what());
    return 2;
  }
  fmt::print("{}", render_text(r));
  if (!json_path.empty()) {
    std::ofstream out(json_path);
    out << render_json(r);
    if (!out) {
      fmt::print(stderr, "cannot write {}\n", json_path);
      return 2;
    }
  }
  return r.clean() ? 0 : 1;
}

} // namespace

int main(int argc, char** argv) {
  using namespace sluice::load;
  if (argc >= 2 && std::string_view(argv[1]) == "report")
    return report_command(argc - 1, argv + 1);
  options opt;
  std::string workload_name = "ingest";
  std::string mix = "0:1";
  std::string json_path;
  std::string template_path;

  std::string workloads_help = "workload (or `report A.json [B.json …] -o report.html`: an HTML page of runs):";
  for (auto& w : k_workloads)
    workloads_help += fmt::format("\n  {:<10} {}", w.name, w.what);

  CLI::App app{"sluice-load: drives a running sluice server and reports throughput, latency and errors"};
  app.add_option("workload", workload_name, workloads_help)->capture_default_str();
  add_server_flags(app, opt);
  add_connection_flags(app, opt);
  add_workload_flags(app, opt, mix);
  add_run_flags(app, opt, json_path, template_path);
  if (int status = sluice::app::parse_or_exit(app, argc, argv); status >= 0)
    return status;

  if (!resolve_options(opt, workload_name, workloads_help, template_path, mix))
    return 2;
  stop_on_signals(opt);
  return run_and_report(opt, json_path);
}
