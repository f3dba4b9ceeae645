#include "log/record_parser.h"

#include <algorithm>

#include "base/bytes.h"
#include "base/checksum.h"
#include "log/format.h"

#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>

namespace sluice::log {

using namespace format;

namespace {
// Reads start small and double: a point read (an aggregate coming back from
// passivation) costs 64 KiB at most, a scan soon reads a MiB at a time.
constexpr size_t k_first_chunk = 64 << 10;
constexpr size_t k_read_chunk = 1 << 20;
} // namespace

error io_error(std::string_view what, const std::filesystem::path& file, int err) {
  bool full = err == ENOSPC || err == EDQUOT;
  return {full ? errc::no_space : errc::io_error, fmt::format("{} {}: {}", what, file.string(), std::strerror(err))};
}

std::string segment_file_name(uint64_t base) { return fmt::format("{:020d}.log", base); }

std::optional<uint64_t> parse_segment_file_name(std::string_view name) {
  if (name.size() != 24 || name.substr(20) != ".log")
    return std::nullopt;
  uint64_t base = 0;
  auto [end, ec] = std::from_chars(name.data(), name.data() + 20, base);
  if (ec != std::errc() || end != name.data() + 20 || base == 0)
    return std::nullopt;
  return base;
}

std::string encode_segment_header(uint64_t base) {
  std::string h(k_segment_header_size, '\0');
  std::memcpy(h.data() + k_seg_off_magic, k_segment_magic, sizeof k_segment_magic);
  store_u32(h.data() + k_seg_off_version, k_version);
  store_u64(h.data() + k_seg_off_base, base);
  store_u32(h.data() + k_seg_off_checksum, checksum32(h.data(), k_seg_off_checksum));
  return h;
}

bool valid_segment_header(const char* bytes, uint64_t base) {
  return std::memcmp(bytes + k_seg_off_magic, k_segment_magic, sizeof k_segment_magic) == 0 &&
         load_u32(bytes + k_seg_off_version) == k_version && load_u64(bytes + k_seg_off_base) == base &&
         load_u32(bytes + k_seg_off_reserved2) == 0 &&
         load_u32(bytes + k_seg_off_checksum) == checksum32(bytes, k_seg_off_checksum);
}

parsed_record parse_record(const char* p, size_t avail) {
  parsed_record out;
  if (avail < k_record_header_size) {
    out.status = parse_status::truncated;
    return out;
  }
  if (static_cast<uint8_t>(p[k_off_magic]) != k_record_magic)
    return out;
  uint32_t length = load_u32(p + k_off_length);
  if (length > k_max_body)
    return out;
  out.size = k_record_header_size + length;
  if (avail < out.size) {
    out.status = parse_status::truncated;
    return out;
  }
  size_t type_len = static_cast<uint8_t>(p[k_off_type_len]);
  size_t command_id_len = static_cast<uint8_t>(p[k_off_command_id_len]);
  size_t aggregate_id_len = load_u16(p + k_off_aggregate_id_len);
  if (type_len + command_id_len + aggregate_id_len > length)
    return out;
  if (load_u32(p + k_off_checksum) != checksum32(p + k_off_length, out.size - k_off_length))
    return out;

  const char* body = p + k_record_header_size;
  out.rec.position = load_u64(p + k_off_position);
  out.rec.version = load_u64(p + k_off_version);
  out.rec.time_us = static_cast<int64_t>(load_u64(p + k_off_time));
  out.rec.schema = std::max<uint16_t>(load_u16(p + k_off_schema), 1);
  out.rec.type = {body, type_len};
  out.rec.aggregate_id = {body + type_len, aggregate_id_len};
  out.rec.command_id = {body + type_len + aggregate_id_len, command_id_len};
  size_t fixed = type_len + aggregate_id_len + command_id_len;
  out.rec.data = {body + fixed, length - fixed};
  out.commit = (static_cast<uint8_t>(p[k_off_flags]) & k_flag_commit) != 0;
  out.status = parse_status::ok;
  return out;
}

void stamp_record(char* p, uint64_t position, bool commit) {
  store_u64(p + k_off_position, position);
  p[k_off_flags] = static_cast<char>(commit ? k_flag_commit : 0);
  uint32_t length = load_u32(p + k_off_length);
  store_u32(p + k_off_checksum, checksum32(p + k_off_length, k_record_header_size + length - k_off_length));
}

segment_reader::segment_reader(int fd, uint64_t offset, uint64_t end) : fd_(fd), offset_(offset), end_(end) {}

std::expected<void, error> segment_reader::fill(size_t need, const std::filesystem::path& file) {
  // Keep the unread bytes, then read as much as fits (at least `need` in all).
  if (pos_ > 0) {
    std::memmove(buf_.data(), buf_.data() + pos_, len_ - pos_);
    len_ -= pos_;
    pos_ = 0;
  }
  size_t chunk = buf_.empty() ? k_first_chunk : std::min(buf_.size() * 2, k_read_chunk);
  if (buf_.size() < std::max(need, chunk))
    buf_.resize(std::max(need, chunk));
  uint64_t file_pos = offset_ + len_;
  while (len_ < need && file_pos < end_) {
    size_t want = static_cast<size_t>(std::min<uint64_t>(buf_.size() - len_, end_ - file_pos));
    ssize_t n = ::pread(fd_, buf_.data() + len_, want, static_cast<off_t>(file_pos));
    if (n < 0) {
      if (errno == EINTR)
        continue;
      return std::unexpected(io_error("read", file, errno));
    }
    if (n == 0)
      break; // the file is shorter than `end_`: callers see a truncated record
    len_ += static_cast<size_t>(n);
    file_pos += static_cast<uint64_t>(n);
  }
  return {};
}

std::expected<parsed_record, error> segment_reader::next(const std::filesystem::path& file) {
  auto at_hand = [&] { return len_ - pos_; };
  if (at_hand() < k_record_header_size)
    if (auto r = fill(k_record_header_size, file); !r)
      return std::unexpected(r.error());
  auto p = parse_record(buf_.data() + pos_, at_hand());
  if (p.status == parse_status::truncated && p.size > at_hand()) {
    if (auto r = fill(p.size, file); !r)
      return std::unexpected(r.error());
    p = parse_record(buf_.data() + pos_, at_hand());
  }
  if (p.status == parse_status::ok) {
    pos_ += p.size;
    offset_ += p.size;
  }
  return p;
}

} // namespace sluice::log
