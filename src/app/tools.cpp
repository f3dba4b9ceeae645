// The subcommands that work on a data directory offline (exec, events,
// check, repair) and `token new`.
#include "app/subcommands.h"

#include "app/offline_engine.h"
#include "base/logger.h"
#include "codec/json_writer.h"
#include "domain/event_json.h"
#include "http/auth.h"
#include "log/check.h"
#include "log/event_log.h"

#include <fmt/format.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>

namespace sluice::app {

namespace {

constexpr logger k_log("sluice");

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

// A data directory's event log, for check and repair: they refuse a
// missing one instead of creating it.
bool has_log(const std::string& data) {
  std::error_code ec;
  if (std::filesystem::is_directory(std::filesystem::path(data) / "log", ec))
    return true;
  k_log.error("{}: no event log there ({} is not a directory)", data, (std::filesystem::path(data) / "log").string());
  return false;
}

} // namespace

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

int events(const log_flags& f, const domain::model& m, const events_flags& e) {
  auto log = open_log(f, m, true);
  if (!log)
    return 2;
  std::string text;
  auto r = log->read(e.from, e.limit, [&](const log::record& rec) {
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

// `sluice check DATA`: 0 when the log starts as it is (a torn tail
// included, which recovery cuts), 1 when damage would stop start-up.
int check(const std::string& data) {
  if (!has_log(data))
    return 2;
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
  if (!has_log(data))
    return 2;
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

// `sluice token new`: a token on the first line, its auth file entry on the second.
int token_new(const token_flags& t) {
  for (auto& g : t.grants)
    if (!http::auth::valid_grant(g)) {
      k_log.error("unknown grant '{}': commands:<type>, commands:*, views:<view>, views:*, events, metrics, admin", g);
      return 2;
    }
  auto token = http::auth::new_token();
  std::string entry;
  codec::json_writer w(entry);
  w.begin_object().key("name").string(t.name).key("sha256").string(http::auth::to_hex(http::auth::sha256(token)));
  w.key("grants").begin_array();
  for (auto& g : t.grants)
    w.string(g);
  w.end_array().end_object();
  fmt::print("{}\n{}\n", token, entry);
  return 0;
}

} // namespace sluice::app
