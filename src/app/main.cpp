// sluice: the command-line entry point.
//
//   sluice exec    apply NDJSON commands from stdin to the event log
//   sluice events  print the event log as NDJSON
//   sluice demo    run a sample order/account session and print its events
#include "app/offline_engine.h"
#include "base/logger.h"
#include "codec/json_writer.h"
#include "domain/event_json.h"
#include "log/event_log.h"

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <chrono>
#include <cstdio>
#include <iostream>
#include <sstream>

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

std::unique_ptr<log::event_log> open_log(const log_flags& f) {
  auto mode = f.durability == "none" ? log::durability::none : log::durability::fsync;
  if (mode == log::durability::none)
    k_log.warn("durability none: acknowledged commands survive a process crash but not a power loss");
  auto log = log::event_log::open({std::filesystem::path(f.data) / "log", mode});
  if (!log) {
    k_log.error("cannot open the event log: {}", log.error().message);
    return nullptr;
  }
  auto& r = (*log)->recovery();
  k_log.info("event log {}: {} records in {} segments, recovered in {} ms{}", f.data, r.records, r.segments,
             r.took.count() / 1000.0,
             r.truncated_bytes ? fmt::format(" (cut a torn tail of {} bytes)", r.truncated_bytes) : "");
  return std::move(*log);
}

int exec(const log_flags& f, std::istream& in) {
  auto log = open_log(f);
  if (!log)
    return 2;
  auto engine = app::offline_engine::open(*log, domain::registry::builtin());
  if (!engine) {
    k_log.error("cannot rebuild aggregates from the log: {}", engine.error());
    return 2;
  }
  return (*engine)->run(in, std::cout) ? 0 : 1;
}

int events(const log_flags& f, uint64_t from, uint64_t limit) {
  auto log = open_log(f);
  if (!log)
    return 2;
  std::string text;
  auto r = log->read(from, limit, [&](const log::record& rec) {
    {
      codec::json_writer w(text);
      domain::write_event_json(domain::registry::builtin(), rec, w);
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

constexpr const char* k_demo_script = R"({"type":"order.create","aggregate_id":"ORD-1","command_id":"c-1","payload":{"customer_id":"CUST-7"}}
{"type":"order.add_item","aggregate_id":"ORD-1","payload":{"product":"Laptop","qty":1,"price":999.99}}
{"type":"order.add_item","aggregate_id":"ORD-1","payload":{"product":"Mouse","qty":2,"price":29.99}}
{"type":"order.confirm","aggregate_id":"ORD-1","expected_version":3,"payload":{}}
{"type":"order.add_item","aggregate_id":"ORD-1","payload":{"product":"Cable","qty":1,"price":5}}
{"type":"order.create","aggregate_id":"ORD-1","command_id":"c-1","payload":{"customer_id":"CUST-7"}}
{"type":"account.open","aggregate_id":"ACC-1","payload":{"owner":"Ada"}}
{"type":"account.deposit","aggregate_id":"ACC-1","payload":{"amount":100}}
{"type":"account.withdraw","aggregate_id":"ACC-1","payload":{"amount":150}}
{"type":"account.withdraw","aggregate_id":"ACC-1","payload":{"amount":0.001}}
{"type":"account.withdraw","aggregate_id":"ACC-1","expected_version":1,"payload":{"amount":10}}
{"type":"account.freeze","aggregate_id":"ACC-1","payload":{}}
{"type":"order.create","aggregate_id":"ORD-2", "payload":{"customer_id":"CUST-7"}
)";

} // namespace

int main(int argc, char** argv) {
  CLI::App app{"sluice: an actor-based CQRS command processor with a durable event log"};
  app.require_subcommand(1);
  log_flags flags;

  auto* exec_cmd = app.add_subcommand("exec", "apply NDJSON commands from stdin; print one result per line");
  add_log_flags(exec_cmd, flags);

  uint64_t from = 1, limit = UINT64_MAX;
  auto* events_cmd = app.add_subcommand("events", "print the event log as NDJSON Event JSON");
  add_log_flags(events_cmd, flags);
  events_cmd->add_option("--from", from, "first position")->capture_default_str();
  events_cmd->add_option("--limit", limit, "most events to print");

  auto* demo_cmd = app.add_subcommand(
      "demo", "apply a sample session of order and account commands (accepted, rejected, invalid, conflicting, "
              "duplicate) and print the results; run it again to see duplicates and rejections from rebuilt state");
  add_log_flags(demo_cmd, flags);

  CLI11_PARSE(app, argc, argv);
  try {
    if (*exec_cmd)
      return exec(flags, std::cin);
    if (*events_cmd)
      return events(flags, from, limit);
    if (*demo_cmd) {
      std::istringstream script(k_demo_script);
      std::cout << "# commands in, one result per line:\n";
      return exec(flags, script);
    }
  } catch (const std::exception& e) {
    k_log.error("{}", e.what());
    return 2;
  }
  return 0;
}
