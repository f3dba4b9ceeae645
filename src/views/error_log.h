// A view version's error log (SPEC §10): which keys are parked since which
// event and why, how often they were retried, and which were skipped. The
// parked events themselves stay in the event log (a view with parked keys
// takes no checkpoints, so every start replays them): this file keeps what
// the log cannot tell, across crashes and restarts.
//
// <data>/views/<view>.v<version>.errors, append-only, one record per change:
// u32 length, u64 XXH3-64 of the payload, payload (codec/binary.h): op,
// key, position, event type, error, first failure (µs since the epoch),
// attempts, and for a skip the last position dropped. A record cut or damaged by a crash ends the file there.
#pragma once

#include "base/string_hash.h"

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace sluice::views {

/// Thread-safe: the shards of one view version share it.
class error_log {
 public:
  struct parked {
    uint64_t position = 0; ///< of the sequence's first parked event
    std::string event_type, error;
    int64_t first_failed_us = 0;
    uint64_t attempts = 1;
    uint64_t through = 0; ///< a skip: the last position dropped (from `position` on)
  };

  /// Opens (creating its directory) and reads `path`; a file that cannot
  /// be written is reported by each write, not here.
  explicit error_log(std::filesystem::path path);

  /// True while nothing is parked or skipped (one relaxed load: every
  /// event of a view asks).
  bool empty() const { return empty_.load(std::memory_order_relaxed); }

  /// What a previous run recorded for `key`, if it is parked.
  std::optional<parked> known(std::string_view key) const;
  /// True if the event of `key` at `position` was skipped.
  bool skipped(std::string_view key, uint64_t position) const;

  // Each durable (written and synced) before it returns; false if the file
  // cannot be written (the record then lives in memory only).
  bool park(std::string_view key, const parked& p);
  bool resolve(std::string_view key);
  bool skip(std::string_view key, uint64_t from, uint64_t through);

  /// Renames the file to `path` (a rebuilt version takes over the log of
  /// the one it replaces).
  void move_to(const std::filesystem::path& path);
  const std::filesystem::path& path() const { return path_; }

 private:
  enum class op : uint8_t { park = 1, resolve = 2, skip = 3 };
  bool append(op o, std::string_view key, const parked& p);

  mutable std::mutex mu_;
  std::filesystem::path path_;
  int fd_ = -1;
  string_map<parked> parked_;
  string_map<std::vector<std::pair<uint64_t, uint64_t>>> skipped_; ///< [from, through] ranges
  std::atomic<bool> empty_{true};
  void update_empty() { empty_.store(parked_.empty() && skipped_.empty(), std::memory_order_relaxed); }
};

} // namespace sluice::views
