// A vector of trivially copyable values that keeps its first N inline: the
// history index holds one per aggregate, most with a handful of positions,
// and a std::vector would cost a heap block (and its header) for each.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <span>
#include <type_traits>
#include <utility>

namespace sluice {

template <class T, uint32_t N>
class small_vector {
  static_assert(std::is_trivially_copyable_v<T> && N > 0);

 public:
  small_vector() noexcept = default;
  small_vector(const small_vector& o) { append(o.begin(), o.end()); }
  small_vector(small_vector&& o) noexcept { take(o); }
  small_vector& operator=(const small_vector& o) {
    if (this != &o) {
      size_ = 0;
      append(o.begin(), o.end());
    }
    return *this;
  }
  small_vector& operator=(small_vector&& o) noexcept {
    if (this != &o) {
      release();
      take(o);
    }
    return *this;
  }
  ~small_vector() { release(); }

  uint32_t size() const noexcept { return size_; }
  bool empty() const noexcept { return size_ == 0; }
  T* data() noexcept { return on_heap() ? heap_ : inline_; }
  const T* data() const noexcept { return on_heap() ? heap_ : inline_; }
  T* begin() noexcept { return data(); }
  T* end() noexcept { return data() + size_; }
  const T* begin() const noexcept { return data(); }
  const T* end() const noexcept { return data() + size_; }
  T& operator[](size_t i) noexcept { return data()[i]; }
  const T& operator[](size_t i) const noexcept { return data()[i]; }
  const T& front() const noexcept { return data()[0]; }
  operator std::span<const T>() const noexcept { return {data(), size_}; } // NOLINT(google-explicit-constructor)

  void push_back(const T& v) {
    if (size_ == capacity_)
      grow(capacity_ * 2);
    data()[size_++] = v;
  }

  /// n values; new ones are value-initialised.
  void resize(uint32_t n) {
    if (n > capacity_)
      grow(n);
    if (n > size_)
      std::fill(data() + size_, data() + n, T{});
    size_ = n;
  }

  /// Removes the first `n` values.
  void erase_front(uint32_t n) {
    n = std::min(n, size_);
    std::memmove(data(), data() + n, (size_ - n) * sizeof(T));
    size_ -= n;
  }

  /// Empties the vector and frees its heap block.
  void clear() noexcept {
    release();
    size_ = 0;
  }

 private:
  bool on_heap() const noexcept { return capacity_ > N; }

  void append(const T* from, const T* to) {
    auto n = static_cast<uint32_t>(to - from);
    if (size_ + n > capacity_)
      grow(size_ + n);
    if (n > 0)
      std::memcpy(data() + size_, from, n * sizeof(T));
    size_ += n;
  }

  void grow(uint32_t capacity) {
    T* to = new T[capacity];
    if (size_ > 0)
      std::memcpy(to, data(), size_ * sizeof(T));
    release();
    heap_ = to;
    capacity_ = capacity;
  }

  void release() noexcept {
    if (on_heap())
      delete[] heap_;
    capacity_ = N;
  }

  // `o` (already released by us) moves in whole; it is left empty.
  void take(small_vector& o) noexcept {
    size_ = o.size_;
    capacity_ = o.capacity_;
    if (o.on_heap())
      heap_ = o.heap_;
    else
      std::memcpy(inline_, o.inline_, sizeof inline_);
    o.size_ = 0;
    o.capacity_ = N;
  }

  uint32_t size_ = 0, capacity_ = N;
  union {
    T inline_[N]{};
    T* heap_;
  };
};

} // namespace sluice
