// Internal to the log module: one open segment file and its sparse index.
#pragma once

#include "log/event_log.h"

#include <sys/uio.h>
#include <unistd.h>

#include <atomic>
#include <cassert>
#include <filesystem>
#include <utility>
#include <vector>

namespace sluice::log {

/// A record is indexed at least every this many bytes, so a read from any
/// position scans at most this much before its first record.
inline constexpr uint64_t k_index_interval = 64 << 10;

/// Writes all of `iov` at `offset`, resuming after short writes; `iov` is
/// consumed. An io_error naming `file` on failure.
std::expected<void, error> write_all(int fd, std::vector<iovec>& iov, uint64_t offset,
                                     const std::filesystem::path& file);

/// True if the file system of `dir` writes over a file's blocks in place, so
/// that zeros written ahead spare a sync the metadata work of appending.
bool overwrites_in_place(const std::filesystem::path& dir);

/// Makes the file "retained" of log directory `dir` say `base`, durably.
std::expected<void, error> write_retained(const std::filesystem::path& dir, int dir_fd, uint64_t base);

struct event_log::segment {
  segment(uint64_t b, std::filesystem::path p, int f) : base(b), path(std::move(p)), fd(f) {}
  ~segment() {
    if (fd >= 0)
      ::close(fd);
  }
  segment(const segment&) = delete;
  segment& operator=(const segment&) = delete;

  const uint64_t base; ///< position of its first record
  const std::filesystem::path path;
  const int fd;                  ///< read-write; readers use pread
  std::atomic<uint64_t> size{0}; ///< durable bytes, header included
  /// Bytes [0, zeroed) are on disk (records or zeros): writing there changes
  /// no file metadata. Past it only under event_log::zero_mu_ (see there).
  std::atomic<uint64_t> zeroed{0};
  std::atomic<uint64_t> last_position{0}; ///< 0 while it holds no record

  // Guarded by event_log::segments_mu_.
  std::vector<std::pair<uint64_t, uint64_t>> index; ///< (position, offset), ascending
  uint64_t last_indexed = 0;                        ///< offset of the last index entry

  /// Records (position, offset) if far enough past the last entry. Caller
  /// holds segments_mu_ exclusively (or is alone, in recovery).
  void note(uint64_t position, uint64_t offset) {
    assert(index.empty() || (position > index.back().first && offset > index.back().second));
    if (index.empty() || offset >= last_indexed + k_index_interval) {
      index.emplace_back(position, offset);
      last_indexed = offset;
    }
  }
};

} // namespace sluice::log
