// Offline tools over a data directory's log, for a server that will not
// start because of damage before the tail (anchors: redis-check-aof --fix,
// LevelDB's RepairDB). Neither may run while a server uses the directory.
#pragma once

#include "log/errc.h"

#include <cstdint>
#include <expected>
#include <filesystem>
#include <string>
#include <vector>

namespace sluice::log {

/// One damaged place in a segment file.
struct damage {
  std::filesystem::path file;
  uint64_t offset = 0;
  uint64_t position = 0; ///< the position expected there
  std::string what;
};

struct check_report {
  size_t segments = 0;
  uint64_t records = 0;       ///< valid records in order before the first damage
  uint64_t last_position = 0; ///< of those
  /// Every damaged record, in file order; after each, scanning resumes at
  /// the next valid record. Empty: recovery starts without complaint.
  std::vector<damage> damaged;
  bool torn_tail = false;            ///< the only damage is a torn tail, which recovery cuts itself
  uint64_t records_after_damage = 0; ///< valid records found after the first damage
};

/// Reads every segment of the log in `dir` and reports what is damaged.
/// Reads only. Errors: io_error.
std::expected<check_report, error> check(const std::filesystem::path& dir);

struct repair_report {
  check_report before;
  uint64_t events_cut = 0;        ///< valid records that were after the cut
  std::filesystem::path saved_to; ///< where what was cut was copied (empty if nothing was)
};

/// Cuts the log in `dir` at its first damage: the damaged segment is
/// truncated there and every later segment removed, after copying the
/// bytes cut and moving the files removed into `backup` (created). Does
/// nothing when check() finds no damage. Errors: io_error.
std::expected<repair_report, error> repair(const std::filesystem::path& dir, const std::filesystem::path& backup);

} // namespace sluice::log
