// An immutable-size byte string that keeps up to 40 bytes inline: aggregate
// and command ids travel in every command, and real ones (UUIDs: 36 bytes)
// outgrow std::string's 15-byte buffer, which cost an allocation per id per
// command, freed on another thread.
#pragma once

#include <fmt/format.h>

#include <compare>
#include <cstdint>
#include <cstring>
#include <functional>
#include <string>
#include <string_view>
#include <utility>

namespace sluice {

class short_string {
 public:
  static constexpr size_t k_inline = 40;

  short_string() noexcept { inline_[0] = '\0'; }
  short_string(std::string_view s) { set(s); } // NOLINT(google-explicit-constructor): ids are strings
  short_string(const std::string& s) : short_string(std::string_view(s)) {}
  short_string(const char* s) : short_string(std::string_view(s)) {}
  short_string(const short_string& o) { set(o.view()); }
  short_string(short_string&& o) noexcept : size_(o.size_) {
    take(o);
  }
  short_string& operator=(const short_string& o) {
    if (this != &o)
      assign(o.view());
    return *this;
  }
  short_string& operator=(short_string&& o) noexcept {
    if (this != &o) {
      release();
      size_ = o.size_;
      take(o);
    }
    return *this;
  }
  ~short_string() { release(); }

  void assign(std::string_view s) {
    release();
    set(s);
  }

  const char* data() const noexcept { return on_heap() ? heap_ : inline_; }
  size_t size() const noexcept { return size_; }
  bool empty() const noexcept { return size_ == 0; }
  std::string_view view() const noexcept { return {data(), size_}; }
  operator std::string_view() const noexcept { return view(); } // NOLINT(google-explicit-constructor)

  // One overload: with a (short_string, short_string) one too, a literal
  // would convert either way and compare ambiguously.
  friend bool operator==(const short_string& a, std::string_view b) noexcept { return a.view() == b; }
  friend auto operator<=>(const short_string& a, const short_string& b) noexcept { return a.view() <=> b.view(); }

 private:
  bool on_heap() const noexcept { return size_ > k_inline; }

  void set(std::string_view s) {
    size_ = static_cast<uint32_t>(s.size());
    char* to = inline_;
    if (on_heap())
      to = heap_ = new char[s.size()];
    if (!s.empty())
      std::memcpy(to, s.data(), s.size());
  }

  // The bytes of `o` (whose size is already ours); `o` is left empty.
  void take(short_string& o) noexcept {
    if (on_heap())
      heap_ = o.heap_;
    else
      std::memcpy(inline_, o.inline_, sizeof inline_);
    o.size_ = 0;
  }

  void release() noexcept {
    if (on_heap())
      delete[] heap_;
    size_ = 0;
  }

  uint32_t size_ = 0;
  union {
    char inline_[k_inline];
    char* heap_;
  };
};

} // namespace sluice

template <>
struct std::hash<sluice::short_string> {
  size_t operator()(const sluice::short_string& s) const noexcept { return std::hash<std::string_view>{}(s.view()); }
};

template <>
struct fmt::formatter<sluice::short_string> : fmt::formatter<std::string_view> {
  template <class Context>
  auto format(const sluice::short_string& s, Context& ctx) const {
    return fmt::formatter<std::string_view>::format(s.view(), ctx);
  }
};
