// The router's live aggregate actors by (type, id): open addressing with
// linear probing, each slot holding the hash, the aggregate (whose id and
// type never change, so the key is not copied) and the actor. A lookup
// touches one slot and compares ids only when the hashes match, where a
// node-based map chased a bucket, a node and a string per probe.
#pragma once

#include "domain/aggregate.h"

#include <caf/actor.hpp>

#include <bit>
#include <cstdint>
#include <string_view>
#include <vector>

namespace sluice::actors {

class actor_table {
 public:
  static uint64_t hash(const domain::aggregate_type* type, std::string_view id) {
    // FNV-1a over the id, salted with the type: ids are short, and the low
    // bits index the table, so every byte must reach them.
    uint64_t h = 0xcbf29ce484222325ull ^ reinterpret_cast<uintptr_t>(type);
    for (unsigned char c : id)
      h = (h ^ c) * 0x100000001b3ull;
    return h ^ (h >> 29);
  }

  struct slot {
    uint64_t hash = 0;
    const domain::aggregate* aggregate = nullptr; ///< null: empty
    caf::actor actor;
    uint32_t round = 0;       ///< the router's drain that last gave it commands …
    uint32_t chain = 0;       ///< … and where in that drain's list its chain is
    uint32_t used_at = 0;     ///< the router's clock at its last chain
    bool passivating = false; ///< asked to passivate, no answer yet
  };

  /// The slot of (type, id) with hash `h`, or null.
  slot* find(const domain::aggregate_type* type, std::string_view id, uint64_t h) {
    if (slots_.empty())
      return nullptr;
    size_t mask = slots_.size() - 1;
    for (size_t i = h & mask; slots_[i].aggregate; i = (i + 1) & mask) {
      auto& s = slots_[i];
      if (s.hash == h && &s.aggregate->type() == type && s.aggregate->id() == id)
        return &s;
    }
    return nullptr;
  }

  /// Adds the actor of `a` (not yet in the table); `a` must outlive its slot.
  slot& insert(const domain::aggregate* a, caf::actor actor, uint64_t h) {
    if (full())
      grow();
    ++size_;
    return place({h, a, std::move(actor)});
  }

  /// Removes `s` (a slot of this table); moves others: pointers into the table die.
  void erase(slot& s) {
    size_t mask = slots_.size() - 1;
    auto hole = static_cast<size_t>(&s - slots_.data());
    slots_[hole] = slot{};
    --size_;
    // Backward shift: a later entry that may fill the hole does, so no
    // probe sequence crosses an empty slot.
    for (size_t j = (hole + 1) & mask; slots_[j].aggregate; j = (j + 1) & mask) {
      size_t home = slots_[j].hash & mask;
      bool stays = hole <= j ? (hole < home && home <= j) : (hole < home || home <= j);
      if (stays)
        continue;
      slots_[hole] = std::move(slots_[j]);
      slots_[j] = slot{};
      hole = j;
    }
  }

  size_t size() const { return size_; }

  /// True if the next insert() moves every slot (pointers into the table die).
  bool full() const { return (size_ + 1) * 4 > slots_.size() * 3; }

  template <class F>
  void for_each(F&& f) {
    for (auto& s : slots_)
      if (s.aggregate)
        f(s.actor);
  }

  /// Calls f(slot&) for every slot in use.
  template <class F>
  void for_each_slot(F&& f) {
    for (auto& s : slots_)
      if (s.aggregate)
        f(s);
  }

 private:
  slot& place(slot s) {
    size_t mask = slots_.size() - 1;
    size_t i = s.hash & mask;
    while (slots_[i].aggregate)
      i = (i + 1) & mask;
    slots_[i] = std::move(s);
    return slots_[i];
  }

  void grow() {
    std::vector<slot> old(std::max<size_t>(64, slots_.size() * 2));
    old.swap(slots_);
    for (auto& s : old)
      if (s.aggregate)
        place(std::move(s));
  }

  std::vector<slot> slots_; ///< size: a power of two, at most 3/4 full
  size_t size_ = 0;
};

} // namespace sluice::actors
