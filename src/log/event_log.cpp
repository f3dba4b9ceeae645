#include "log/event_log.h"

#include "base/bytes.h"
#include "base/logger.h"
#include "base/thread_name.h"
#include "log/format.h"
#include "log/record_parser.h"
#include "log/open_segment.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cassert>
#include <cerrno>
#include <climits>
#include <future>
#include <optional>

namespace sluice::log {

namespace {

constexpr logger k_log("log");

} // namespace

std::expected<void, error> write_all(int fd, std::vector<iovec>& iov, uint64_t offset,
                                     const std::filesystem::path& file) {
  size_t first = 0;
  while (first < iov.size()) {
    int n_iov = static_cast<int>(std::min<size_t>(iov.size() - first, IOV_MAX));
    ssize_t n = ::pwritev(fd, iov.data() + first, n_iov, static_cast<off_t>(offset));
    if (n < 0) {
      if (errno == EINTR)
        continue;
      return std::unexpected(io_error("write", file, errno));
    }
    offset += static_cast<uint64_t>(n);
    auto left = static_cast<size_t>(n);
    while (first < iov.size() && left >= iov[first].iov_len)
      left -= iov[first++].iov_len;
    if (left > 0) {
      iov[first].iov_base = static_cast<char*>(iov[first].iov_base) + left;
      iov[first].iov_len -= left;
    }
  }
  return {};
}

event_log::event_log(const options& opts) : opts_(opts) {}

std::expected<std::unique_ptr<event_log>, error> event_log::open(const options& opts) {
  if (opts.segment_bytes < format::k_segment_header_size)
    return std::unexpected(error{errc::invalid_argument, "segment size is too small"});
  std::unique_ptr<event_log> log(new event_log(opts));
  if (auto r = log->recover(); !r)
    return std::unexpected(r.error());
  if (opts.read_only) {
    log->closing_ = true; // no writer: append() answers closed
    return log;
  }
  log->zeros_ahead_ = opts.mode == durability::fsync && overwrites_in_place(opts.dir);
  if (log->zeros_ahead_)
    log->preparer_ = std::thread([l = log.get()] {
      name_this_thread("sluice.zeros");
      l->run_preparer();
    });
  log->writer_ = std::thread([l = log.get()] {
    name_this_thread("sluice.writer");
    l->run_writer();
  });
  log->syncer_ = std::thread([l = log.get()] {
    name_this_thread("sluice.syncer");
    l->run_syncer();
  });
  return log;
}

event_log::~event_log() {
  close();
  if (dir_fd_ >= 0)
    ::close(dir_fd_);
}

void event_log::close() {
  std::lock_guard once(close_mu_);
  {
    std::lock_guard lk(queue_mu_);
    if (closing_ && !writer_.joinable())
      return;
    closing_ = true;
  }
  queue_cv_.notify_one();
  if (writer_.joinable() && writer_.get_id() != std::this_thread::get_id())
    writer_.join();
  if (syncer_.joinable() && syncer_.get_id() != std::this_thread::get_id())
    syncer_.join();
  if (preparer_.joinable()) {
    {
      std::lock_guard lk(zero_mu_);
      zero_stop_ = true;
    }
    zero_cv_.notify_all();
    preparer_.join();
  }
}

void event_log::append(write_batch batch, append_callback done) {
  std::unique_lock lk(queue_mu_);
  if (closing_) {
    lk.unlock();
    return done(std::unexpected(error{errc::closed, "event log is closed"}));
  }
  queue_.push_back({std::move(batch), std::move(done)});
  bool first = queue_.size() == 1;
  lk.unlock();
  // Woken outside the lock: a writer woken inside it would block on the
  // mutex at once, a second sleep and wake-up.
  if (first)
    queue_cv_.notify_one();
}

std::expected<append_result, error> store::append_and_wait(write_batch batch) {
  std::promise<std::expected<append_result, error>> p;
  auto f = p.get_future();
  append(std::move(batch), [&p](std::expected<append_result, error> r) { p.set_value(std::move(r)); });
  return f.get();
}

std::expected<void, error> event_log::start_segment(uint64_t base) {
  auto path = opts_.dir / segment_file_name(base);
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0)
    return std::unexpected(io_error("create", path, errno));
  auto seg = std::make_shared<segment>(base, path, fd);
  auto header = encode_segment_header(base);
  std::vector<iovec> iov{{header.data(), header.size()}};
  auto wrote = write_all(fd, iov, 0, path);
  if (!wrote && wrote.error().code == errc::no_space) {
    // No segment at all rather than one with a torn header.
    ::unlink(path.c_str());
    ::fsync(dir_fd_);
  }
  if (!wrote)
    return wrote;
  // The header and the directory entry are durable before any record is.
  if (::fdatasync(fd) != 0 || ::fsync(dir_fd_) != 0)
    return std::unexpected(io_error("sync", path, errno));
  seg->size.store(header.size());
  seg->zeroed.store(header.size());
  std::unique_lock lk(segments_mu_);
  segments_.push_back(std::move(seg));
  return {};
}

void event_log::fail(std::vector<pending>& group, const error& e) {
  for (auto& p : group)
    p.done(std::unexpected(e));
}

void event_log::set_failed(const error& e) {
  std::lock_guard lk(failure_mu_);
  if (!failed_.load()) {
    failure_ = "event log failed earlier: " + e.message;
    k_log.error("{}; no further appends are accepted", e.message);
    failed_.store(true);
  }
}

void event_log::run_writer() {
  std::vector<pending> group;
  for (;;) {
    {
      std::unique_lock lk(queue_mu_);
      queue_cv_.wait(lk, [&] { return !queue_.empty() || closing_; });
      if (queue_.empty())
        break; // closing, and everything queued was written
      group.swap(queue_);
    }
    if (failed_.load()) {
      std::string why;
      {
        std::lock_guard lk(failure_mu_);
        why = failure_;
      }
      fail(group, {errc::failed, why});
      group.clear();
      continue;
    }
    if (unavailable_.load(std::memory_order_acquire)) {
      fail(group, {errc::no_space, "the disk is full; the event log takes appends again when it has room"});
      group.clear();
      continue;
    }
    written w;
    w.group = std::move(group);
    group.clear();
    if (auto r = write_group(w); !r) {
      if (r.error().code == errc::no_space) {
        // Nothing of this group is durable or visible: cut its bytes off,
        // so that a later append continues after the last whole record.
        cut_back();
        if (!failed_.load()) {
          k_log.warn("{}; answering log_unavailable until there is room", r.error().message);
          unavailable_.store(true, std::memory_order_release);
        }
      } else
        set_failed(r.error());
      fail(w.group, r.error());
      continue;
    }
    {
      std::lock_guard lk(sync_mu_);
      to_sync_.push_back(std::move(w));
    }
    sync_cv_.notify_one();
  }
  {
    std::lock_guard lk(sync_mu_);
    writer_done_ = true;
  }
  sync_cv_.notify_one();
}

void event_log::run_syncer() {
  std::vector<written> batch;
  for (;;) {
    {
      std::unique_lock lk(sync_mu_);
      sync_cv_.wait(lk, [&] { return !to_sync_.empty() || writer_done_; });
      if (to_sync_.empty())
        return;
      batch.swap(to_sync_);
    }
    // One fdatasync per segment serves every group written to it so far.
    std::optional<error> failure;
    if (failed_.load())
      failure = error{errc::failed, "event log failed earlier"};
    auto t0 = std::chrono::steady_clock::now();
    bool synced = false;
    // Without fsync the syncer only completes groups: the callbacks still
    // run off the writer's thread, so writing and answering overlap.
    for (size_t i = 0; i < batch.size() && !failure && opts_.mode == durability::fsync; ++i) {
      // Empty groups ride along only to keep callbacks in append order.
      bool last_of_segment = i + 1 == batch.size() || batch[i + 1].seg != batch[i].seg;
      bool has_records = std::any_of(batch.begin(), batch.begin() + static_cast<ptrdiff_t>(i) + 1,
                                     [&](const written& w) { return w.seg == batch[i].seg && !w.marks.empty(); });
      if (!last_of_segment || !has_records)
        continue;
      int err = injected(syscall_site::sync);
      if (err == 0 && ::fdatasync(batch[i].seg->fd) != 0)
        err = errno;
      if (err != 0)
        failure = error{errc::io_error, io_error("sync", batch[i].seg->path, err).message};
      synced = true;
    }
    if (failure) {
      set_failed(*failure);
      if (opts_.on_sync_failure && failure->code == errc::io_error)
        opts_.on_sync_failure(*failure); // before any append hears of it
      for (auto& w : batch)
        fail(w.group, *failure);
    } else {
      if (synced) {
        auto took = std::chrono::steady_clock::now() - t0;
        sync_durations_.observe(static_cast<uint64_t>(std::chrono::nanoseconds(took).count()));
        syncs_.fetch_add(1, std::memory_order_relaxed);
      }
      for (auto& w : batch)
        publish(w);
    }
    batch.clear();
  }
}

std::expected<void, error> event_log::write_group(written& w) {
  if (!write_seg_) {
    std::shared_lock lk(segments_mu_);
    write_seg_ = segments_.back();
    write_offset_ = write_seg_->size.load();
  }
  if (write_offset_ >= opts_.segment_bytes && next_position_ > write_seg_->base) {
    if (auto r = start_segment(next_position_); !r)
      return r;
    {
      std::shared_lock lk(segments_mu_);
      write_seg_ = segments_.back();
      write_offset_ = write_seg_->size.load();
    }
    if (on_closed_)
      on_closed_();
  }

  // Stamp positions and checksums; the group's last record carries the commit flag.
  w.seg = write_seg_;
  w.first_position = next_position_;
  uint64_t position = next_position_;
  uint64_t at = write_offset_;
  std::vector<iovec> iov;
  char* last_record = nullptr;
  for (auto& p : w.group) {
    auto& buf = p.batch.buf_;
    if (buf.empty())
      continue;
    iov.push_back({buf.data(), buf.size()});
    for (size_t o = 0; o < buf.size();) {
      char* r = buf.data() + o;
      stamp_record(r, position, false);
      w.marks.emplace_back(position, at);
      size_t size = format::k_record_header_size + load_u32(r + format::k_off_length);
      last_record = r;
      ++position;
      o += size;
      at += size;
    }
  }
  w.last_position = position - 1;
  w.end_offset = at;
  assert(at >= write_offset_ && w.first_position == next_position_);
  if (!last_record)
    return {};
  stamp_record(last_record, position - 1, true);
  if (auto r = write_at_end(iov, at); !r)
    return r;
  write_offset_ = at;
  next_position_ = position;
  return {};
}

void event_log::cut_back() {
  // write_offset_ is the end of the last whole record written; the syncer
  // may still be making records before it durable, and that stays valid.
  if (!write_seg_)
    return;
  if (::ftruncate(write_seg_->fd, static_cast<off_t>(write_offset_)) != 0) {
    set_failed(io_error("truncate", write_seg_->path, errno));
    return;
  }
  std::lock_guard lk(zero_mu_);
  if (write_seg_->zeroed.load() > write_offset_)
    write_seg_->zeroed.store(write_offset_, std::memory_order_release);
}

bool event_log::resume(uint64_t min_free) {
  if (!unavailable_.load(std::memory_order_acquire))
    return !failed_.load();
  struct statvfs fs;
  if (::statvfs(opts_.dir.c_str(), &fs) != 0)
    return false;
  if (static_cast<uint64_t>(fs.f_bavail) * fs.f_frsize < min_free)
    return false;
  k_log.info("the disk has room again: taking appends");
  unavailable_.store(false, std::memory_order_release);
  return !failed_.load();
}

void event_log::publish(written& w) {
  // Groups reach the syncer, and so the readers, in position order.
  assert(w.marks.empty() || w.first_position == durable_.load() + 1);
  if (!w.marks.empty()) {
    {
      std::unique_lock lk(segments_mu_);
      for (auto [pos, off] : w.marks)
        w.seg->note(pos, off);
    }
    w.seg->size.store(w.end_offset, std::memory_order_release);
    w.seg->last_position.store(w.last_position, std::memory_order_release);
    appended_.fetch_add(w.last_position + 1 - w.first_position, std::memory_order_relaxed);
    durable_.store(w.last_position, std::memory_order_release);
  }
  uint64_t first = w.first_position;
  for (auto& p : w.group) {
    auto n = p.batch.count();
    p.done(append_result{first, first + n - 1});
    first += n;
  }
}

std::expected<uint64_t, error> event_log::read(uint64_t from, size_t max_records,
                                               const std::function<bool(const record&)>& visit) const {
  from = std::max<uint64_t>(from, 1);
  uint64_t durable = last_position();
  size_t visited = 0;
  while (from <= durable && visited < max_records) {
    std::shared_ptr<segment> seg;
    uint64_t start = format::k_segment_header_size;
    {
      std::shared_lock lk(segments_mu_);
      auto it = std::upper_bound(segments_.begin(), segments_.end(), from,
                                 [](uint64_t pos, const auto& s) { return pos < s->base; });
      if (it == segments_.begin()) {
        // Before the first segment: nothing there (retention deleted it).
        if (segments_.empty() || segments_.front()->base > durable)
          return from;
        from = segments_.front()->base;
        it = std::next(segments_.begin());
      }
      seg = *std::prev(it);
      auto idx = std::upper_bound(seg->index.begin(), seg->index.end(), std::make_pair(from, UINT64_MAX));
      if (idx != seg->index.begin())
        start = std::prev(idx)->second;
    }
    uint64_t end = seg->size.load(std::memory_order_acquire);
    segment_reader reader(seg->fd, start, end);
    std::string upcast; // only records of an older schema are copied here
    bool advanced = false;
    while (visited < max_records) {
      uint64_t at = reader.offset();
      auto p = reader.next(seg->path);
      if (!p)
        return std::unexpected(p.error());
      if (p->status != parse_status::ok) {
        if (p->size == 0 && at == end)
          break; // end of this segment's durable bytes
        return std::unexpected(
            error{errc::corrupt, fmt::format("damaged record in {} at offset {}", seg->path.string(), at)});
      }
      uint64_t pos = p->rec.position;
      if (pos > durable)
        return from;
      if (pos < from)
        continue;
      ++visited;
      from = pos + 1;
      advanced = true;
      if (opts_.upcaster)
        opts_.upcaster->upcast(p->rec, upcast);
      if (!visit(p->rec))
        return from;
    }
    if (!advanced)
      return from; // the segment chosen for `from` has nothing at or after it
  }
  return from;
}

std::vector<segment_info> event_log::segments() const {
  std::vector<segment_info> out;
  std::shared_lock lk(segments_mu_);
  for (size_t i = 0; i < segments_.size(); ++i) {
    auto& seg = *segments_[i];
    struct stat st {};
    segment_info info{seg.base, seg.last_position.load(), seg.size.load(), {}};
    if (::fstat(seg.fd, &st) == 0)
      info.closed_at =
          std::chrono::system_clock::time_point(std::chrono::duration_cast<std::chrono::system_clock::duration>(
              std::chrono::seconds(st.st_mtim.tv_sec) + std::chrono::nanoseconds(st.st_mtim.tv_nsec)));
    out.push_back(info);
  }
  return out;
}

std::expected<uint64_t, error> event_log::delete_before(uint64_t base) {
  std::vector<std::shared_ptr<segment>> gone;
  {
    std::shared_lock lk(segments_mu_);
    // Never the segment being written, and only at a segment's start.
    auto it = std::find_if(segments_.begin(), segments_.end(), [&](auto& s) { return s->base == base; });
    if (it == segments_.end() || it == segments_.begin())
      return 0;
  }
  if (auto r = write_retained(opts_.dir, dir_fd_, base); !r)
    return std::unexpected(r.error());
  {
    std::unique_lock lk(segments_mu_);
    while (segments_.size() > 1 && segments_.front()->base < base) {
      gone.push_back(std::move(segments_.front()));
      segments_.erase(segments_.begin());
    }
    first_.store(base, std::memory_order_release);
  }
  uint64_t bytes = 0;
  for (auto& seg : gone) {
    bytes += seg->size.load();
    if (::unlink(seg->path.c_str()) != 0 && errno != ENOENT)
      return std::unexpected(io_error("remove", seg->path, errno));
  }
  ::fsync(dir_fd_);
  return bytes; // the files' space is freed once the last reader lets go
}

} // namespace sluice::log
