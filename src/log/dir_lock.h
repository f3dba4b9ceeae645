// One process per data directory: the exclusive lock `serve`, `exec` and
// `repair` hold for their whole life (SPEC §7). Two writers on one log
// would each number their appends from the same end and one's
// acknowledged records would overwrite the other's.
#pragma once

#include "log/errc.h"

#include <expected>
#include <filesystem>

namespace sluice::log {

/// An flock(2) on `<dir>/LOCK`, which also holds the holder's PID for the
/// error a second process prints. The kernel releases the lock when the
/// holder exits, `kill -9` included, so a stale file never blocks a
/// restart. Move-only; released by the destructor. Not thread-safe (one
/// owner).
class dir_lock {
 public:
  /// Creates `dir` if missing and takes its lock without waiting. Errors:
  /// locked (the message names the directory and the holder's PID),
  /// io_error.
  static std::expected<dir_lock, error> acquire(const std::filesystem::path& dir);

  dir_lock(dir_lock&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
  dir_lock& operator=(dir_lock&& o) noexcept;
  dir_lock(const dir_lock&) = delete;
  dir_lock& operator=(const dir_lock&) = delete;
  ~dir_lock();

 private:
  explicit dir_lock(int fd) : fd_(fd) {}
  int fd_ = -1;
};

} // namespace sluice::log
