// event_log::recover(): find the last good record, cut a torn tail, refuse damage before it.
#include "base/logger.h"
#include "log/event_log.h"
#include "log/format.h"
#include "log/record_parser.h"
#include "log/open_segment.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

namespace sluice::log {

namespace {

constexpr logger k_log("log");

error corrupt(const std::filesystem::path& file, uint64_t offset, std::string_view what) {
  return {errc::corrupt, fmt::format("event log is corrupt in {} at offset {}: {}; refusing to start (restore the "
                                     "file, or run `sluice check DATA` to see every damaged record and "
                                     "`sluice repair DATA` to cut the log there, keeping a copy of what it cuts)",
                                     file.string(), offset, what)};
}

// Reads up to `size` bytes at `offset`; fewer only at the end of the file.
std::expected<size_t, error> read_at(int fd, const std::filesystem::path& file, char* buf, size_t size,
                                     uint64_t offset) {
  size_t got = 0;
  while (got < size) {
    ssize_t n = ::pread(fd, buf + got, size - got, static_cast<off_t>(offset + got));
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      return std::unexpected(io_error("read", file, errno));
    if (n == 0)
      break;
    got += static_cast<size_t>(n);
  }
  return got;
}

// A bad record at `from` is a torn tail unless a valid record that closed a
// group commit lies after it: that commit was acknowledged, so the damage is
// before the tail. Power loss can persist a commit's pages out of order;
// then this errs on the side of refusing to start, never of dropping data.
std::expected<bool, error> commit_after(int fd, const std::filesystem::path& file, uint64_t from, uint64_t end,
                                        uint64_t after_position) {
  if (from >= end)
    return false;
  std::string region(end - from, '\0');
  auto read = read_at(fd, file, region.data(), region.size(), from);
  if (!read)
    return std::unexpected(read.error());
  size_t got = *read;
  for (size_t o = 0; o + format::k_record_header_size <= got; ++o) {
    if (static_cast<uint8_t>(region[o + format::k_off_magic]) != format::k_record_magic)
      continue;
    auto p = parse_record(region.data() + o, got - o);
    if (p.status == parse_status::ok && p.commit && p.rec.position > after_position)
      return true;
  }
  return false;
}

// True if bytes [from, end) of the file are all zero: zeros written ahead of
// the writer (event_log.h), not a torn tail.
std::expected<bool, error> all_zero(int fd, const std::filesystem::path& file, uint64_t from, uint64_t end) {
  std::string buf(std::min<uint64_t>(end - from, 1 << 20), '\0');
  while (from < end) {
    auto n = read_at(fd, file, buf.data(), std::min<uint64_t>(buf.size(), end - from), from);
    if (!n)
      return std::unexpected(n.error());
    if (std::any_of(buf.data(), buf.data() + *n, [](char c) { return c != 0; }))
      return false;
    if (*n < std::min<uint64_t>(buf.size(), end - from))
      return true; // the file is shorter than stat said: nothing more to look at
    from += *n;
  }
  return true;
}

constexpr const char* k_retained_file = "retained";

// Opens the log directory: created if missing, or (read_only) required to exist.
std::expected<int, error> open_log_dir(const options& opts) {
  std::error_code ec;
  if (opts.read_only) {
    if (!std::filesystem::is_directory(opts.dir, ec))
      return std::unexpected(
          error{errc::not_found, fmt::format("no event log in {} (no such directory)", opts.dir.string())});
  } else {
    std::filesystem::create_directories(opts.dir, ec);
    if (ec)
      return std::unexpected(error{errc::io_error, fmt::format("create {}: {}", opts.dir.string(), ec.message())});
  }
  int dir_fd = ::open(opts.dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd < 0)
    return std::unexpected(io_error("open", opts.dir, errno));
  return dir_fd;
}

// The base positions of the segments to recover, ascending, into `bases`;
// `expected` is the first position retention kept.
std::expected<void, error> list_segments(const options& opts, int dir_fd, uint64_t expected,
                                         std::vector<uint64_t>& bases) {
  std::error_code ec;
  for (auto& entry : std::filesystem::directory_iterator(opts.dir, ec))
    if (auto base = parse_segment_file_name(entry.path().filename().string()); base && entry.is_regular_file())
      bases.push_back(*base);
  if (ec)
    return std::unexpected(error{errc::io_error, fmt::format("list {}: {}", opts.dir.string(), ec.message())});
  std::sort(bases.begin(), bases.end());

  // Segments below where retention cut are what a crash left of its run.
  while (!bases.empty() && bases.front() < expected) {
    auto path = opts.dir / segment_file_name(bases.front());
    if (opts.read_only) { // the next open() by a writer removes it
      bases.erase(bases.begin());
      continue;
    }
    k_log.info("removing {}: retention had deleted it when the server stopped", path.string());
    if (::unlink(path.c_str()) != 0 || ::fsync(dir_fd) != 0)
      return std::unexpected(io_error("remove", path, errno));
    bases.erase(bases.begin());
  }
  return {};
}

// Opens the segment file at `path`, which must start at position
// `expected`, and says its size.
std::expected<std::shared_ptr<event_log::segment>, error> open_segment_file(const std::filesystem::path& path,
                                                                            uint64_t base, uint64_t expected,
                                                                            bool read_only, uint64_t& file_size) {
  if (base != expected)
    return std::unexpected(corrupt(
        path, 0, fmt::format("segment starts at position {}, expected {} (a segment is missing)", base, expected)));
  int fd = ::open(path.c_str(), (read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC);
  if (fd < 0)
    return std::unexpected(io_error("open", path, errno));
  auto seg = std::make_shared<event_log::segment>(base, path, fd);
  struct stat st;
  if (::fstat(fd, &st) != 0)
    return std::unexpected(io_error("stat", path, errno));
  file_size = static_cast<uint64_t>(st.st_size);
  return seg;
}

bool segment_header_ok(int fd, uint64_t file_size, uint64_t base) {
  char header[format::k_segment_header_size];
  return file_size >= sizeof header && ::pread(fd, header, sizeof header, 0) == static_cast<ssize_t>(sizeof header) &&
         valid_segment_header(header, base);
}

// A bad segment header is damage, unless the segment is the last and no
// commit follows: then it was torn while being created.
std::expected<void, error> check_torn_header(const event_log::segment& seg, bool last, uint64_t file_size,
                                             uint64_t expected) {
  if (!last)
    return std::unexpected(corrupt(seg.path, 0, "bad segment header"));
  auto later = commit_after(seg.fd, seg.path, 0, file_size, expected - 1);
  if (!later)
    return std::unexpected(later.error());
  if (*later)
    return std::unexpected(corrupt(seg.path, 0, "bad segment header"));
  return {};
}

// Removes a segment torn while being created (closed by the caller).
std::expected<void, error> remove_torn_segment(const std::filesystem::path& path, uint64_t file_size, int dir_fd,
                                               recovery_report& report) {
  k_log.warn("removing torn segment {} ({} bytes)", path.string(), file_size);
  report.truncated_bytes += file_size;
  if (::unlink(path.c_str()) != 0 || ::fsync(dir_fd) != 0)
    return std::unexpected(io_error("remove", path, errno));
  return {};
}

} // namespace

uint64_t retained_from(const std::filesystem::path& dir) {
  int fd = ::open((dir / k_retained_file).c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return 1;
  char buf[32] = {};
  auto n = ::read(fd, buf, sizeof buf - 1);
  ::close(fd);
  uint64_t v = 0;
  for (ssize_t i = 0; i < n && buf[i] >= '0' && buf[i] <= '9'; ++i)
    v = v * 10 + static_cast<uint64_t>(buf[i] - '0');
  return std::max<uint64_t>(v, 1);
}

std::expected<void, error> write_retained(const std::filesystem::path& dir, int dir_fd, uint64_t base) {
  auto path = dir / k_retained_file;
  auto partial = dir / "retained.partial";
  int fd = ::open(partial.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0)
    return std::unexpected(io_error("create", partial, errno));
  auto text = fmt::format("{}\n", base);
  bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) && ::fdatasync(fd) == 0;
  int err = errno;
  ::close(fd);
  if (!ok)
    return std::unexpected(io_error("write", partial, err));
  if (::rename(partial.c_str(), path.c_str()) != 0 || ::fsync(dir_fd) != 0)
    return std::unexpected(io_error("rename", path, errno));
  return {};
}

std::expected<event_log::segment_end, error> event_log::scan_segment(segment& seg, uint64_t file_size, bool last,
                                                                     uint64_t& expected) {
  segment_reader reader(seg.fd, format::k_segment_header_size, file_size);
  for (;;) {
    uint64_t at = reader.offset();
    auto p = reader.next(seg.path);
    if (!p)
      return std::unexpected(p.error());
    if (p->status == parse_status::ok && p->rec.position == expected) {
      seg.note(expected, at);
      ++expected;
      ++report_.records;
      continue;
    }
    auto zeros = all_zero(seg.fd, seg.path, at, file_size);
    if (!zeros)
      return std::unexpected(zeros.error());
    if (*zeros) // clean end, or zeros written ahead: kept for the writer
      return segment_end{at, false};
    if (!last)
      return std::unexpected(corrupt(seg.path, at, "damaged record"));
    auto later = commit_after(seg.fd, seg.path, at + 1, file_size, expected - 1);
    if (!later)
      return std::unexpected(later.error());
    if (*later)
      return std::unexpected(corrupt(seg.path, at, "damaged record before the last commit"));
    return segment_end{at, true};
  }
}

std::expected<void, error> event_log::cut_torn_tail(segment& seg, uint64_t at, uint64_t file_size) {
  k_log.warn("cutting torn tail of {} at offset {} ({} bytes)", seg.path.string(), at, file_size - at);
  report_.truncated_bytes += file_size - at;
  if (::ftruncate(seg.fd, static_cast<off_t>(at)) != 0 || ::fdatasync(seg.fd) != 0)
    return std::unexpected(io_error("truncate", seg.path, errno));
  return {};
}

std::expected<void, error> event_log::recover() {
  auto started = std::chrono::steady_clock::now();
  auto dir_fd = open_log_dir(opts_);
  if (!dir_fd)
    return std::unexpected(dir_fd.error());
  dir_fd_ = *dir_fd;

  uint64_t expected = retained_from(opts_.dir); // position the next record must have
  std::vector<uint64_t> bases;
  if (auto r = list_segments(opts_, dir_fd_, expected, bases); !r)
    return r;
  first_.store(expected);
  for (size_t i = 0; i < bases.size(); ++i) {
    bool last = i + 1 == bases.size();
    auto path = opts_.dir / segment_file_name(bases[i]);
    uint64_t file_size = 0;
    auto opened = open_segment_file(path, bases[i], expected, opts_.read_only, file_size);
    if (!opened)
      return std::unexpected(opened.error());
    auto seg = std::move(*opened);

    if (!segment_header_ok(seg->fd, file_size, bases[i])) {
      if (auto torn = check_torn_header(*seg, last, file_size, expected); !torn)
        return torn;
      // A segment torn while being created: it holds nothing acknowledged.
      seg.reset();
      if (!opts_.read_only)
        if (auto r = remove_torn_segment(path, file_size, dir_fd_, report_); !r)
          return r;
      break;
    }

    auto end = scan_segment(*seg, file_size, last, expected);
    if (!end)
      return std::unexpected(end.error());
    if (end->torn && opts_.read_only) {
      file_size = end->offset;
    } else if (end->torn) {
      if (auto cut = cut_torn_tail(*seg, end->offset, file_size); !cut)
        return std::unexpected(cut.error());
      file_size = end->offset;
    }
    seg->size.store(end->offset);
    seg->zeroed.store(file_size);
    seg->last_position.store(expected > seg->base ? expected - 1 : 0);
    segments_.push_back(std::move(seg));
  }

  next_position_ = expected;
  durable_.store(expected - 1);
  if (segments_.empty() && !opts_.read_only)
    if (auto r = start_segment(expected); !r)
      return r;

  report_.last_position = expected - 1;
  report_.segments = segments_.size();
  report_.took = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - started);
  return {};
}

} // namespace sluice::log
