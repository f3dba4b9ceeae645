// A string-keyed map for millions of small entries: the entries live in
// chunks of 1,024 (stable addresses, no allocation per entry), found through
// an open-addressing table of 8-byte slots (a 32-bit tag of the hash and the
// entry's index). A lookup touches one slot and, when the tag matches, one
// entry; growing rehashes from the hashes the entries keep, in entry order,
// without reading a key. Callers give the hash, so that one computation
// serves their sharding and the table. Keys of up to 40 bytes are kept
// inline (short_string), so an entry is one slot of a chunk and nothing else.
// No erase but by remove_if().
#pragma once

#include "base/short_string.h"
#include "base/string_hash.h"

#include <algorithm>
#include <bit>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sluice {

template <class T>
class flat_string_map {
 public:
  struct node {
    uint64_t hash = 0;
    short_string key;
    T value{};
  };

  size_t size() const { return size_; }

  /// The hash the key-only overloads use, for callers that shard by none.
  static uint64_t hash(std::string_view key) { return string_hash{}(key); }
  T* find(std::string_view key) { return find(key, hash(key)); }
  const T* find(std::string_view key) const { return find(key, hash(key)); }
  node* find_node(std::string_view key) { return find_node(key, hash(key)); }
  const node* find_node(std::string_view key) const { return find_node(key, hash(key)); }
  std::pair<T&, bool> try_emplace(std::string_view key) { return try_emplace(key, hash(key)); }
  std::pair<node&, bool> try_emplace_node(std::string_view key) { return try_emplace_node(key, hash(key)); }

  /// The value of `key` (whose hash is `h`), or null.
  T* find(std::string_view key, uint64_t h) { return const_cast<T*>(std::as_const(*this).find(key, h)); }
  const T* find(std::string_view key, uint64_t h) const {
    auto* n = find_node(key, h);
    return n ? &n->value : nullptr;
  }

  /// The entry of `key`, or null; its address is stable until remove_if().
  node* find_node(std::string_view key, uint64_t h) {
    return const_cast<node*>(std::as_const(*this).find_node(key, h));
  }
  const node* find_node(std::string_view key, uint64_t h) const {
    if (slots_.empty())
      return nullptr;
    auto tag = tag_of(h);
    for (size_t i = home(h);; i = (i + 1) & mask_) {
      auto s = slots_[i];
      if (s == 0)
        return nullptr;
      if (static_cast<uint32_t>(s) == tag) {
        auto& n = at(static_cast<uint32_t>(s >> 32) - 1);
        if (n.hash == h && n.key == key)
          return &n;
      }
    }
  }

  /// The value of `key`, made (value-initialised) if absent; true if made.
  std::pair<T&, bool> try_emplace(std::string_view key, uint64_t h) {
    auto [n, made] = try_emplace_node(key, h);
    return {n.value, made};
  }

  /// The entry of `key`, made (value-initialised) if absent; true if made.
  std::pair<node&, bool> try_emplace_node(std::string_view key, uint64_t h) {
    if (auto* n = find_node(key, h))
      return {*n, false};
    if ((size_ + 1) * 4 > slots_.size() * 3)
      rehash(std::max<size_t>(64, slots_.size() * 2));
    auto index = size_;
    if (index % k_chunk == 0)
      chunks_.push_back(std::make_unique<node[]>(k_chunk));
    auto& n = at(index);
    n.hash = h;
    n.key.assign(key);
    ++size_;
    place(h, index);
    return {n, true};
  }

  /// Room for `n` entries in all without a rehash.
  void reserve(size_t n) {
    size_t want = std::bit_ceil(std::max<size_t>(64, n + n / 3 + 1));
    if (want > slots_.size())
      rehash(want);
  }

  /// Calls f(key, value) for every entry, in insertion order.
  template <class F>
  void for_each(F&& f) {
    for (size_t i = 0; i < size_; ++i)
      f(std::string_view(at(i).key), at(i).value);
  }
  template <class F>
  void for_each(F&& f) const {
    for (size_t i = 0; i < size_; ++i)
      f(std::string_view(at(i).key), std::as_const(at(i).value));
  }

  /// Removes the entries for which pred(key, value) holds (moving the
  /// others: references into the map die); returns how many went.
  template <class Pred>
  size_t remove_if(Pred&& pred) {
    size_t kept = 0;
    for (size_t i = 0; i < size_; ++i) {
      if (pred(std::string_view(at(i).key), at(i).value))
        continue;
      if (kept != i)
        at(kept) = std::move(at(i));
      ++kept;
    }
    size_t gone = size_ - kept;
    for (size_t i = kept; i < size_; ++i)
      at(i) = node{};
    size_ = kept;
    chunks_.resize((size_ + k_chunk - 1) / k_chunk);
    if (!slots_.empty())
      rehash(slots_.size());
    return gone;
  }

 private:
  static constexpr size_t k_chunk = 1024;

  // The table's index from the hash's high bits (callers shard by its low
  // ones); the tag from other bits, never 0 (0 marks an empty slot).
  size_t home(uint64_t h) const { return static_cast<size_t>((h * 0x9E3779B97F4A7C15ull) >> shift_); }
  static uint32_t tag_of(uint64_t h) { return static_cast<uint32_t>(h >> 16) | 1u; }

  node& at(size_t i) { return chunks_[i / k_chunk][i % k_chunk]; }
  const node& at(size_t i) const { return chunks_[i / k_chunk][i % k_chunk]; }

  void place(uint64_t h, size_t index) {
    size_t i = home(h);
    while (slots_[i] != 0)
      i = (i + 1) & mask_;
    slots_[i] = (static_cast<uint64_t>(index + 1) << 32) | tag_of(h);
  }

  void rehash(size_t capacity) {
    slots_.assign(capacity, 0);
    mask_ = capacity - 1;
    shift_ = 64 - std::countr_zero(capacity);
    for (size_t i = 0; i < size_; ++i)
      place(at(i).hash, i);
  }

  std::vector<std::unique_ptr<node[]>> chunks_;
  std::vector<uint64_t> slots_; ///< a power of two, at most 3/4 full
  size_t mask_ = 0;
  int shift_ = 64;
  size_t size_ = 0;
};

} // namespace sluice
