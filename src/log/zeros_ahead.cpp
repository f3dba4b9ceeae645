// event_log's zeros ahead of the writer (fsync mode): the preparer thread
// and the writer's side of the claim protocol; docs/log-format.md says why.
#include "base/logger.h"
#include "log/event_log.h"
#include "log/record_parser.h"
#include "log/open_segment.h"

#include <linux/magic.h>
#include <sys/statfs.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

namespace sluice::log {

namespace {

constexpr logger k_log("log");

// Zeros ahead of the writer: requested when it is within half the distance,
// written in chunks (each one write and one sync). The distance grows with
// the segment, so a short-lived log writes little.
constexpr uint64_t k_page = 4096;
constexpr uint64_t k_zero_chunk = 2 << 20;
constexpr uint64_t k_zero_ahead_min = 1 << 20;
constexpr uint64_t k_zero_ahead_max = 8 << 20;

constexpr uint64_t align_up(uint64_t x) { return (x + k_page - 1) / k_page * k_page; }

uint64_t zero_ahead(uint64_t end) { return std::clamp(end, k_zero_ahead_min, k_zero_ahead_max); }

} // namespace

// Whether writing over a file's blocks spares a sync the metadata work of
// appending. Not where every write allocates anew (btrfs copies on write)
// or a sync writes nothing (tmpfs): there zeros ahead only double the writes.
bool overwrites_in_place(const std::filesystem::path& dir) {
  struct statfs fs;
  if (::statfs(dir.c_str(), &fs) != 0)
    return true;
  auto type = static_cast<unsigned long>(fs.f_type);
  return type != BTRFS_SUPER_MAGIC && type != TMPFS_MAGIC && type != RAMFS_MAGIC;
}

std::expected<void, error> event_log::write_at_end(std::vector<iovec>& iov, uint64_t end) {
  segment& seg = *write_seg_;
  if (int err = injected(syscall_site::write))
    return std::unexpected(io_error("write", seg.path, err));
  uint64_t zeroed = seg.zeroed.load(std::memory_order_acquire);
  uint64_t cap = align_up(std::max<uint64_t>(opts_.segment_bytes, 1));
  if (!zeros_ahead_ || (end <= zeroed && (zeroed >= cap || end + zero_ahead(end) / 2 <= zeroed)))
    return write_all(seg.fd, iov, write_offset_, seg.path);
  {
    std::unique_lock lk(zero_mu_);
    if (end > zeroed) // past the zeros: wait out a chunk being written, then claim the bytes
      zero_cv_.wait(lk, [&] { return !zeroing_; });
    if (end > zeroed || zero_seg_ != write_seg_) {
      zero_seg_ = write_seg_;
      writer_end_ = end;
    }
    zero_want_ = std::min(cap, align_up(end + zero_ahead(end)));
    zero_cv_.notify_all();
  }
  return write_all(seg.fd, iov, write_offset_, seg.path);
}

void event_log::run_preparer() {
  // Buffered, so the zeroed pages stay in the page cache: the writer's
  // partial-page writes then never read them back from the disk.
  std::string zeros(k_zero_chunk, '\0'); // not const: iovec wants a char*
  std::unique_lock lk(zero_mu_);
  for (;;) {
    uint64_t from = 0, to = 0;
    zero_cv_.wait(lk, [&] {
      if (zero_stop_ || !zero_seg_)
        return zero_stop_;
      from = align_up(std::max(zero_seg_->zeroed.load(std::memory_order_relaxed), writer_end_));
      to = std::min(zero_want_, from + k_zero_chunk);
      return from < to;
    });
    if (zero_stop_)
      break;
    auto seg = zero_seg_;
    zeroing_ = true;
    lk.unlock();
    std::vector<iovec> iov{{zeros.data(), to - from}};
    auto wrote = write_all(seg->fd, iov, from, seg->path);
    std::string failure;
    if (!wrote)
      failure = wrote.error().message;
    else if (::fdatasync(seg->fd) != 0)
      failure = std::strerror(errno);
    lk.lock();
    zeroing_ = false;
    zero_cv_.notify_all();
    if (!failure.empty()) {
      // Not fatal: the writer appends as it would without zeros ahead.
      k_log.warn("writing zeros ahead in {}: {}; going on without", seg->path.string(), failure);
      break;
    }
    seg->zeroed.store(to, std::memory_order_release);
  }
  zero_stop_ = true; // for good: the writer never waits on zeroing_ again
}

} // namespace sluice::log
