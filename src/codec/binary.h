// Compact binary encoding of command payloads and event data:
//
//   uint    := LEB128 varint (1..10 bytes)
//   int     := zigzag(int64) as uint
//   string  := uint length, then the bytes
//   bool    := one byte, 0 or 1
//   optional<string> := bool present, then string when present
//
// Fields follow each other in the order their type declares them (see
// fields.h); there are no tags, so a type's field list is its schema.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace sluice::codec {

/// Appends to a caller-owned string. Not thread-safe.
class binary_writer {
 public:
  explicit binary_writer(std::string& out) : out_(out) {}

  void uint(uint64_t v) {
    char buf[10];
    int n = 0;
    while (v >= 0x80) {
      buf[n++] = static_cast<char>(v | 0x80);
      v >>= 7;
    }
    buf[n++] = static_cast<char>(v);
    out_.append(buf, static_cast<size_t>(n));
  }
  void sint(int64_t v) { uint((static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63)); }
  void string(std::string_view s) {
    uint(s.size());
    out_.append(s);
  }
  void boolean(bool b) { out_.push_back(b ? '\1' : '\0'); }

 private:
  std::string& out_;
};

/// Reads what binary_writer wrote. Every read checks bounds; after the
/// first failure ok() is false and further reads return zero values.
/// Views returned by string() point into the input.
class binary_reader {
 public:
  explicit binary_reader(std::string_view in) : p_(in.data()), end_(in.data() + in.size()) {}

  uint64_t uint() {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (p_ == end_)
        return fail();
      auto byte = static_cast<uint8_t>(*p_++);
      if (shift == 63 && byte > 1)
        return fail(); // more than 64 bits
      v |= static_cast<uint64_t>(byte & 0x7F) << shift;
      if (byte < 0x80)
        return v;
    }
    return fail();
  }
  int64_t sint() {
    uint64_t u = uint();
    return static_cast<int64_t>((u >> 1) ^ (0 - (u & 1)));
  }
  std::string_view string() {
    uint64_t n = uint();
    if (!ok_ || n > static_cast<uint64_t>(end_ - p_)) {
      fail();
      return {};
    }
    std::string_view s(p_, n);
    p_ += n;
    return s;
  }
  bool boolean() {
    if (p_ == end_)
      return fail() != 0;
    auto byte = static_cast<uint8_t>(*p_++);
    if (byte > 1)
      return fail() != 0;
    return byte == 1;
  }

  bool ok() const { return ok_; }
  bool at_end() const { return p_ == end_; }
  size_t remaining() const { return static_cast<size_t>(end_ - p_); }
  /// The bytes not read yet.
  std::string_view rest() const { return {p_, remaining()}; }

  /// Marks the input bad (a value out of range); returns 0 for the read.
  uint64_t fail() {
    ok_ = false;
    p_ = end_;
    return 0;
  }

 private:
  const char* p_;
  const char* end_;
  bool ok_ = true;
};

} // namespace sluice::codec
