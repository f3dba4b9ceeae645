#include "log/check.h"

#include "log/event_log.h"
#include "log/format.h"
#include "log/record_parser.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <iterator>

namespace sluice::log {

namespace {

struct segment_scan {
  std::filesystem::path path;
  uint64_t base = 0;
  uint64_t size = 0;
  bool cut = false;    ///< the first damage is in this segment …
  uint64_t cut_at = 0; ///< … at this offset
};

std::expected<std::string, error> slurp(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in)
    return std::unexpected(error{errc::io_error, fmt::format("open {}: cannot read", file.string())});
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// Finds the next offset after `from` where a valid record starts.
size_t resync(const std::string& bytes, size_t from) {
  for (size_t o = from; o + format::k_record_header_size <= bytes.size(); ++o) {
    if (static_cast<uint8_t>(bytes[o + format::k_off_magic]) != format::k_record_magic)
      continue;
    if (parse_record(bytes.data() + o, bytes.size() - o).status == parse_status::ok)
      return o;
  }
  return bytes.size();
}

// The segment files in `dir`, in position order, into `segs`.
std::expected<void, error> list_segments(const std::filesystem::path& dir, std::vector<segment_scan>& segs) {
  std::error_code ec;
  for (auto& entry : std::filesystem::directory_iterator(dir, ec))
    if (auto base = parse_segment_file_name(entry.path().filename().string()); base && entry.is_regular_file())
      segs.push_back({entry.path(), *base});
  if (ec)
    return std::unexpected(error{errc::io_error, fmt::format("list {}: {}", dir.string(), ec.message())});
  std::sort(segs.begin(), segs.end(), [](auto& a, auto& b) { return a.base < b.base; });
  return {};
}

std::expected<std::vector<segment_scan>, error> scan(const std::filesystem::path& dir, check_report& report) {
  std::vector<segment_scan> segs;
  if (auto r = list_segments(dir, segs); !r)
    return std::unexpected(r.error());
  // Segments below where retention cut are deleted by the next start.
  uint64_t expected = retained_from(dir);
  std::erase_if(segs, [&](auto& s) { return s.base < expected; });
  report.segments = segs.size();
  bool damaged = false;
  auto note = [&](segment_scan& s, uint64_t offset, std::string what) {
    report.damaged.push_back({s.path, offset, expected, std::move(what)});
    if (!damaged) {
      s.cut = true;
      s.cut_at = offset;
    }
    damaged = true;
  };
  for (auto& s : segs) {
    auto bytes = slurp(s.path);
    if (!bytes)
      return std::unexpected(bytes.error());
    s.size = bytes->size();
    if (s.base != expected && !damaged)
      note(s, 0, fmt::format("segment starts at position {}, expected {} (a segment is missing)", s.base, expected));
    if (bytes->size() < format::k_segment_header_size || !valid_segment_header(bytes->data(), s.base)) {
      note(s, 0, "bad segment header");
      continue;
    }
    size_t at = format::k_segment_header_size;
    while (at < bytes->size()) {
      auto p = parse_record(bytes->data() + at, bytes->size() - at);
      if (p.status == parse_status::ok && (damaged || p.rec.position == expected)) {
        if (damaged)
          ++report.records_after_damage;
        else {
          ++report.records;
          report.last_position = expected++;
        }
        at += p.size;
        continue;
      }
      if (std::all_of(bytes->begin() + static_cast<ptrdiff_t>(at), bytes->end(), [](char c) { return c == 0; }))
        break; // a clean end, or zeros written ahead
      note(s, at,
           p.status == parse_status::ok ? fmt::format("record at position {}, expected {}", p.rec.position, expected)
                                        : "damaged record");
      at = resync(*bytes, at + 1);
    }
  }
  // Damage only at the very end of the last segment, with nothing valid
  // after it, is a torn tail: recovery cuts it by itself.
  report.torn_tail = report.damaged.size() == 1 && report.records_after_damage == 0 && !segs.empty() &&
                     report.damaged[0].file == segs.back().path && report.damaged[0].offset > 0;
  return segs;
}

// Moves a segment after the cut into `backup`. Copied first, then removed:
// a crash in between loses nothing.
std::expected<void, error> move_to_backup(const segment_scan& s, const std::filesystem::path& backup) {
  std::error_code ec;
  std::filesystem::copy_file(s.path, backup / s.path.filename(), ec);
  if (!ec)
    std::filesystem::remove(s.path, ec);
  if (ec)
    return std::unexpected(error{errc::io_error, fmt::format("move {}: {}", s.path.string(), ec.message())});
  return {};
}

// Cuts the damaged segment at its first damage, after copying the bytes cut
// into `backup`.
std::expected<void, error> cut_segment(const segment_scan& s, const std::filesystem::path& backup) {
  auto bytes = slurp(s.path);
  if (!bytes)
    return std::unexpected(bytes.error());
  {
    std::ofstream saved(backup / fmt::format("{}.from-{}", s.path.filename().string(), s.cut_at), std::ios::binary);
    saved.write(bytes->data() + s.cut_at, static_cast<std::streamsize>(bytes->size() - s.cut_at));
    saved.flush();
    if (!saved)
      return std::unexpected(error{errc::io_error, fmt::format("write the cut bytes to {}", backup.string())});
  }
  // A damaged header leaves nothing worth keeping in the file.
  if (s.cut_at < format::k_segment_header_size) {
    std::error_code ec;
    std::filesystem::remove(s.path, ec);
    if (ec)
      return std::unexpected(error{errc::io_error, fmt::format("remove {}: {}", s.path.string(), ec.message())});
    return {};
  }
  int fd = ::open(s.path.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0 || ::ftruncate(fd, static_cast<off_t>(s.cut_at)) != 0 || ::fsync(fd) != 0) {
    auto e = io_error("truncate", s.path, errno);
    if (fd >= 0)
      ::close(fd);
    return std::unexpected(e);
  }
  ::close(fd);
  return {};
}

} // namespace

std::expected<check_report, error> check(const std::filesystem::path& dir) {
  check_report report;
  auto segs = scan(dir, report);
  if (!segs)
    return std::unexpected(segs.error());
  return report;
}

std::expected<repair_report, error> repair(const std::filesystem::path& dir, const std::filesystem::path& backup) {
  repair_report out;
  auto segs = scan(dir, out.before);
  if (!segs)
    return std::unexpected(segs.error());
  if (out.before.damaged.empty())
    return out;
  out.events_cut = out.before.records_after_damage;
  std::error_code ec;
  std::filesystem::create_directories(backup, ec);
  if (ec)
    return std::unexpected(error{errc::io_error, fmt::format("create {}: {}", backup.string(), ec.message())});
  out.saved_to = backup;
  bool after = false;
  for (auto& s : *segs) {
    if (after) {
      if (auto r = move_to_backup(s, backup); !r)
        return std::unexpected(r.error());
      continue;
    }
    if (!s.cut)
      continue;
    after = true;
    if (auto r = cut_segment(s, backup); !r)
      return std::unexpected(r.error());
  }
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  return out;
}

} // namespace sluice::log
