// Aggregate snapshots (SPEC §9) under <data>/snapshots: append-only files of
// checksummed records, written by a thread of their own so that taking a
// snapshot costs a command only the encoding of its state. Never required:
// a record that is torn, fails its checksum or does not match is ignored and
// the log is used. Format: docs/log-format.md, "Snapshots".
#pragma once

#include "log/errc.h"

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <expected>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace sluice::log {

/// One snapshot record.
struct snapshot {
  uint64_t fingerprint = 0; ///< of the aggregate type's state layout
  uint64_t version = 0;     ///< the aggregate's version it reflects
  uint64_t position = 0;    ///< the log position of that version's event
  std::string type;         ///< aggregate type name
  std::string id;
  std::string body; ///< domain::aggregate::encode_snapshot()
};

/// Where a record is: file number << 40 | offset. 0 is no record.
using snapshot_ref = uint64_t;

class snapshot_store {
 public:
  struct options {
    std::filesystem::path dir;
    uint64_t file_bytes = 64ull << 20;       ///< a file is closed at this size
    uint64_t max_queued_bytes = 64ull << 20; ///< beyond it write() drops (snapshots are optional)
    /// Called on the writer thread after each record is written.
    std::function<void(const snapshot&, snapshot_ref)> on_written;
  };

  /// Opens (creating) the directory and reads every file, oldest first,
  /// calling `found` for each intact record (with an empty body: bodies are
  /// read on demand). Damaged records are counted in rejected().
  static std::expected<std::unique_ptr<snapshot_store>, error> open(
      options opts, const std::function<void(const snapshot&, snapshot_ref)>& found);

  ~snapshot_store();
  snapshot_store(const snapshot_store&) = delete;
  snapshot_store& operator=(const snapshot_store&) = delete;

  /// Queues `s` for writing. False if the queue is full (then dropped). Thread-safe.
  bool write(snapshot s);

  /// Reads the record at `ref`; the error says why it cannot be used
  /// (torn, checksum). Thread-safe.
  std::expected<snapshot, std::string> read(snapshot_ref ref) const;

  /// Waits until everything queued before the call is written.
  void flush();

  /// flush(), then makes every file durable (snapshots are written without
  /// a sync, but retention deletes the log they replace). False on failure.
  bool sync();

  uint64_t written() const { return written_.load(std::memory_order_relaxed); }
  uint64_t dropped() const { return dropped_.load(std::memory_order_relaxed); }
  /// Records refused while opening (torn or corrupt).
  uint64_t rejected() const { return rejected_; }
  /// Intact records found while opening.
  uint64_t found() const { return found_; }
  uint64_t bytes() const { return bytes_.load(std::memory_order_relaxed); }

  /// Record layout, for tests that damage files.
  static constexpr size_t k_header = 48;
  static constexpr uint32_t k_magic = 0x50414e53; // "SNAP" in the file

  static std::filesystem::path file_name(const std::filesystem::path& dir, uint32_t n);

 private:
  explicit snapshot_store(options opts);
  void run();
  bool append(const snapshot& s);
  int fd_of(uint32_t number) const;

  options opts_;
  struct file {
    uint32_t number;
    int fd;
    uint64_t size;
  };
  mutable std::mutex files_mu_; ///< guards files_ (the writer adds; readers look up)
  std::vector<file> files_;

  std::mutex mu_;
  std::condition_variable cv_, idle_cv_;
  std::deque<snapshot> queue_;
  uint64_t queued_bytes_ = 0;
  bool busy_ = false, stop_ = false;

  std::atomic<uint64_t> written_{0}, dropped_{0}, bytes_{0};
  uint64_t rejected_ = 0, found_ = 0;
  std::thread writer_;
};

} // namespace sluice::log
