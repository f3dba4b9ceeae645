// Segment files' bytes: names, headers, and the record parser. Shared by
// recovery, the writer, readers and the offline check; no state of its own.
#pragma once

#include "log/errc.h"
#include "log/record.h"

#include <cstddef>
#include <cstdint>
#include <expected>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

namespace sluice::log {

/// "00000000000000000001.log" for base position 1.
std::string segment_file_name(uint64_t base);

/// The base position a segment file name encodes, if it is one.
std::optional<uint64_t> parse_segment_file_name(std::string_view name);

/// The 32-byte header of a segment starting at `base`.
std::string encode_segment_header(uint64_t base);

/// True if `bytes` (at least k_segment_header_size) is a valid header for `base`.
bool valid_segment_header(const char* bytes, uint64_t base);

enum class parse_status {
  ok,        ///< a whole, valid record
  truncated, ///< the bytes end inside the record (or its header)
  bad,       ///< not a valid record: magic, length, lengths or checksum wrong
};

struct parsed_record {
  parse_status status = parse_status::bad;
  record rec;      ///< views into the parsed bytes (status ok only)
  size_t size = 0; ///< header plus body (ok, or truncated once the header was read)
  bool commit = false;
};

/// Parses the record at `p`, of which `avail` bytes are at hand.
parsed_record parse_record(const char* p, size_t avail);

/// Writes position, flags and checksum into an encoded record (writer side).
void stamp_record(char* p, uint64_t position, bool commit);

/// Sequential buffered reader over one segment file through pread(2):
/// memory stays at one buffer however large the file is.
/// Not thread-safe; many may read the same fd at once.
class segment_reader {
 public:
  /// Reads `fd` from byte `offset` up to byte `end`.
  segment_reader(int fd, uint64_t offset, uint64_t end);

  /// The next record's parse; its views live until the next call.
  /// At `end`: status truncated with size 0. I/O failure: an error.
  std::expected<parsed_record, error> next(const std::filesystem::path& file);

  /// File offset of the record next() returns next.
  uint64_t offset() const { return offset_; }

 private:
  std::expected<void, error> fill(size_t need, const std::filesystem::path& file);

  int fd_;
  uint64_t offset_; // file offset of buf_[pos_]
  uint64_t end_;
  std::string buf_;
  size_t pos_ = 0, len_ = 0;
};

/// An io_error naming the call, file and errno.
error io_error(std::string_view what, const std::filesystem::path& file, int err);

} // namespace sluice::log
