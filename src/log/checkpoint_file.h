// Checkpoints (SPEC §9): a view shard's model, or the history index, as of
// one log position, so that start-up replays only the log after it. One
// file per checkpointed thing under <data>/checkpoints, replaced whole: a
// new one is written beside it, synced, and renamed over it, so a crash
// leaves the old one or the new one, never a mix (docs/log-format.md).
//
// A checkpoint is never required: one that is missing, damaged or of
// another layout is refused, and what it would have held is rebuilt from
// the log.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <expected>
#include <filesystem>
#include <map>
#include <mutex>
#include <string>
#include <thread>

namespace sluice::log {

struct checkpoint {
  std::string name;         ///< what it holds: "view.<name>" or "history"; [a-z0-9_.]
  uint32_t version = 0;     ///< of the view (SPEC §10); 0 for the history index
  uint32_t shard = 0;       ///< which shard of `shards`
  uint32_t shards = 1;      ///< how many shards the thing had when written
  uint64_t fingerprint = 0; ///< the layout of `body`: a change refuses old files
  uint64_t position = 0;    ///< every event up to here is reflected, none after
  std::string body;
};

/// The header is 64 bytes; then name and body. Little-endian.
inline constexpr uint32_t k_checkpoint_magic = 0x4b43'4c53; // "SLCK"
inline constexpr uint32_t k_checkpoint_format = 1;
inline constexpr size_t k_checkpoint_header = 64;

/// The file of (`name`, `version`, `shard`, `shards`) in `dir`.
std::filesystem::path checkpoint_path(const std::filesystem::path& dir, std::string_view name, uint32_t version,
                                      uint32_t shard, uint32_t shards);

/// The bytes of `c`'s file.
std::string encode_checkpoint(const checkpoint& c);

/// Parses a file's bytes; the error says what is wrong with them.
std::expected<checkpoint, std::string> decode_checkpoint(std::string_view bytes);

/// Writes `c` to its file in `dir` (created if missing): a temporary file,
/// fdatasync, rename, fsync of the directory. The error names the file.
std::expected<void, std::string> write_checkpoint(const std::filesystem::path& dir, const checkpoint& c);

/// Reads and checks the file of (`name`, `version`, `shard`, `shards`) in
/// `dir`; nothing if there is none. The error says why it was refused.
std::expected<checkpoint, std::string> read_checkpoint(const std::filesystem::path& dir, std::string_view name,
                                                       uint32_t version, uint32_t shard, uint32_t shards, bool& found);

/// Removes temporary files a crash left in `dir`; returns how many.
size_t remove_partial_checkpoints(const std::filesystem::path& dir);

/// Writes checkpoints on a thread of its own ("sluice.ckpt"), off the
/// threads that made them. At most one waits per file: a newer checkpoint
/// of the same file replaces one not yet written. Thread-safe.
class checkpoint_writer {
 public:
  explicit checkpoint_writer(std::filesystem::path dir);
  /// Writes what is queued, then stops.
  ~checkpoint_writer();
  checkpoint_writer(const checkpoint_writer&) = delete;
  checkpoint_writer& operator=(const checkpoint_writer&) = delete;

  void write(checkpoint c);

  /// Blocks until everything queued so far is written (or failed); what is
  /// queued meanwhile does not hold it up, so it returns under any load.
  void flush();

  /// Whether a checkpoint for this file is queued or being written.
  bool busy(std::string_view name, uint32_t shard) const;

  const std::filesystem::path& dir() const { return dir_; }
  uint64_t written() const;
  uint64_t failed() const;

 private:
  void run();

  std::filesystem::path dir_;
  mutable std::mutex mu_;
  std::condition_variable cv_, idle_cv_;
  struct queued {
    checkpoint c;
    uint64_t since = 0; ///< the oldest write() it answers (a newer one replaces an older)
  };
  /// The oldest write() not yet written: its sequence number, or `seq_ + 1`.
  uint64_t oldest_pending() const;

  std::map<std::pair<std::string, uint32_t>, queued> queue_;
  std::pair<std::string, uint32_t> writing_;
  bool active_ = false;        ///< `writing_` is being written
  uint64_t writing_since_ = 0; ///< of `writing_`
  uint64_t seq_ = 0;           ///< write() calls so far
  bool stop_ = false;
  uint64_t written_ = 0, failed_ = 0;
  std::thread thread_;
};

} // namespace sluice::log
