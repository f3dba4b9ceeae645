// The event log: sluice's database of record.
//
// Architecture: an append-only sequence of records in segment files
// (docs/log-format.md). Callers encode records into write_batches on their
// own threads and hand them to append(). A writer thread takes every batch
// waiting, stamps positions and checksums and writes them with one pwritev;
// a syncer thread makes everything written so far durable with one
// fdatasync (group commit; skipped with durability none) while the writer
// goes on writing the next group, then publishes the new durable end and
// calls each batch's callback in append order. Readers pread the segments concurrently and never see past
// the durable end. With fsync, a preparer thread writes zeros ahead of the
// writer, so a group commit overwrites blocks the file already has and its
// fdatasync flushes data only, with no metadata (size, extents) to commit
// (not on btrfs or tmpfs, where that gains nothing).
#pragma once

#include "base/duration_histogram.h"
#include "log/errc.h"
#include "log/record.h"
#include "log/store.h"
#include "log/write_batch.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <expected>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <thread>
#include <vector>

struct iovec;

namespace sluice::log {

enum class durability {
  fsync, ///< fdatasync before an append is reported durable (survives power loss)
  none,  ///< written to the OS only (survives a process crash, not power loss)
};

/// Where a test may make the log's system calls fail (options::inject).
enum class syscall_site { write, sync };

struct options {
  std::filesystem::path dir; ///< created if missing (unless read_only)
  durability mode = durability::fsync;
  uint64_t segment_bytes = 64ull << 20; ///< a new segment starts past this size
  /// Called on the syncer thread after an fdatasync of records failed and
  /// the log turned failed(): whether the data reached the disk is then
  /// unknowable (the page cache may have dropped it), so a server exits
  /// here and recovery reads what is really on disk. Must not append.
  std::function<void(const error&)> on_sync_failure = {};
  /// For tests, where the kernel cannot be made to fail: called before each
  /// write and sync of records; a nonzero errno makes that call fail with it.
  std::function<int(syscall_site)> inject = {};
  /// Applied to every record read(), so that readers see current events
  /// (SPEC §12); must outlive the log. Null: records as stored.
  const record_upcaster* upcaster = nullptr;
  /// For tools beside a running server (`sluice events`): open() writes
  /// nothing and creates nothing (errc::not_found without the directory),
  /// a torn tail is left as it is and read up to, and append() fails with
  /// errc::closed. Reads see what was durable when open() ran.
  bool read_only = false;
};

/// The first position retention kept (SPEC §9), from the file "retained"
/// in a log directory (1 if there is none). Segments below it are what a
/// crash left of a retention run: open() removes them.
uint64_t retained_from(const std::filesystem::path& dir);

/// What open() found and did.
struct recovery_report {
  uint64_t records = 0;
  uint64_t last_position = 0;
  size_t segments = 0;
  uint64_t truncated_bytes = 0; ///< torn tail cut off (0 if none)
  std::chrono::microseconds took{0};
};

/// The segmented local log: the store a single node keeps on its own disk
/// (store.h states the contract it keeps; here, what is particular to it).
class event_log final : public store {
 public:
  /// Opens the log in `opts.dir`, creating it if missing, and recovers it:
  /// a torn or corrupt tail is cut off with a warning; damage before the
  /// tail fails with errc::corrupt naming file and offset. Other errors:
  /// io_error, invalid_argument (segment size), not_found (read_only).
  static std::expected<std::unique_ptr<event_log>, error> open(const options& opts);

  /// Closes (see close()).
  ~event_log() override;
  event_log(const event_log&) = delete;
  event_log& operator=(const event_log&) = delete;

  // The store (store.h states each member's contract).
  void append(write_batch batch, append_callback done) override;
  std::expected<uint64_t, error> read(uint64_t from, size_t max_records,
                                      const std::function<bool(const record&)>& visit) const override;
  uint64_t last_position() const override { return durable_.load(std::memory_order_acquire); }
  uint64_t first_position() const override { return first_.load(std::memory_order_acquire); }
  std::vector<segment_info> segments() const override;
  /// Also makes "retained" say `base`, durably, so that a crash part way is
  /// finished by the next open().
  std::expected<uint64_t, error> delete_before(uint64_t base) override;
  /// Called on the writer's thread.
  void on_segment_closed(std::function<void()> f) override { on_closed_ = std::move(f); }
  /// One writer: never called.
  void on_foreign(std::function<void(append_result)>) override {}
  /// Writes and syncs what is queued, and joins the writer.
  void close() override;
  bool failed() const override { return failed_.load(std::memory_order_acquire); }
  /// Set when a write found the disk full: the segment was cut back to its
  /// last whole record.
  bool unavailable() const override { return unavailable_.load(std::memory_order_acquire); }
  bool resume(uint64_t min_free = 1 << 20) override;
  uint64_t syncs() const override { return syncs_.load(std::memory_order_relaxed); }
  uint64_t appended_records() const override { return appended_.load(std::memory_order_relaxed); }
  /// How long each group commit's fdatasync took.
  const duration_histogram& sync_durations() const override { return sync_durations_; }

  const recovery_report& recovery() const { return report_; }
  durability mode() const { return opts_.mode; }
  /// True if zeros are written ahead of the records (fsync mode, on a file
  /// system that overwrites in place; docs/log-format.md).
  bool zeros_ahead() const { return zeros_ahead_; }

  struct segment; // one file of the log; defined in event_log.cpp

 private:
  struct pending {
    write_batch batch;
    append_callback done;
  };

  // A group written but not yet durable, on its way from writer to syncer.
  struct written {
    std::vector<pending> group;
    std::shared_ptr<segment> seg;
    uint64_t end_offset = 0; // of the segment, after the group
    uint64_t first_position = 0;
    uint64_t last_position = 0;                       // first_position - 1 when the group holds no record
    std::vector<std::pair<uint64_t, uint64_t>> marks; // (position, offset) of each record
  };

  explicit event_log(const options& opts);
  std::expected<void, error> recover();
  // Recovery's two steps for one segment: the offset where its valid
  // records end (advancing `expected` past them; an error for damage that
  // is not a torn tail), then cutting a torn tail there.
  struct segment_end {
    uint64_t offset = 0; ///< where its valid records end
    bool torn = false;   ///< what follows is a torn tail to cut (else nothing or zeros)
  };
  std::expected<segment_end, error> scan_segment(segment& seg, uint64_t file_size, bool last, uint64_t& expected);
  std::expected<void, error> cut_torn_tail(segment& seg, uint64_t at, uint64_t file_size);
  std::expected<void, error> start_segment(uint64_t base);
  void run_writer();
  void run_syncer();
  std::expected<void, error> write_group(written& w);
  void publish(written& w);
  void fail(std::vector<pending>& group, const error& e);
  void set_failed(const error& e);
  std::expected<void, error> write_at_end(std::vector<iovec>& iov, uint64_t end);
  void cut_back();
  int injected(syscall_site site) const { return opts_.inject ? opts_.inject(site) : 0; }
  void run_preparer();

  options opts_;
  recovery_report report_;
  int dir_fd_ = -1;

  // Segments; the writer appends and updates the last, readers look up.
  mutable std::shared_mutex segments_mu_;
  std::vector<std::shared_ptr<segment>> segments_;

  // Writer-thread state.
  uint64_t next_position_ = 1;
  uint64_t write_offset_ = 0;          // end of the last segment as written (≥ its durable size)
  std::shared_ptr<segment> write_seg_; // the segment being appended to

  // Set once a write or sync failed; every later append fails.
  std::atomic<bool> failed_{false};
  // Set while the disk is full; appends fail with no_space until resume().
  std::atomic<bool> unavailable_{false};
  std::mutex failure_mu_;
  std::string failure_;

  // Groups written and waiting for the syncer.
  std::mutex sync_mu_;
  std::condition_variable sync_cv_;
  std::vector<written> to_sync_;
  bool writer_done_ = false;
  std::thread syncer_;

  // Zeros ahead of the writer (fsync mode). The preparer writes zeros from
  // max(zeroed, writer_end_) up; the writer goes past a segment's `zeroed`
  // only after claiming the bytes in writer_end_, never while zeroing_.
  std::mutex zero_mu_;
  std::condition_variable zero_cv_;
  std::shared_ptr<segment> zero_seg_; // the segment being written
  uint64_t writer_end_ = 0;           // of zero_seg_: the writer's bytes end here
  uint64_t zero_want_ = 0;            // of zero_seg_: zeros wanted up to here
  bool zeroing_ = false;              // the preparer is writing zeros
  bool zero_stop_ = false;
  bool zeros_ahead_ = false; // set before the threads start, then fixed
  std::thread preparer_;

  // Queue of appends for the next group commit.
  std::mutex queue_mu_;
  std::condition_variable queue_cv_;
  std::vector<pending> queue_;
  bool closing_ = false;
  std::mutex close_mu_;
  std::thread writer_;

  std::atomic<uint64_t> durable_{0};
  std::atomic<uint64_t> first_{1};
  std::function<void()> on_closed_;
  std::atomic<uint64_t> syncs_{0};
  std::atomic<uint64_t> appended_{0};
  duration_histogram sync_durations_;
};

} // namespace sluice::log
