// The memory request bodies may hold at once (limits::body_memory_bytes):
// one budget shared by every connection, and each I/O thread's share of it.
// The server owns the budget and its workers' shares; a session takes a
// body's bytes at its head and gives them back at its answer.
#pragma once

#include <atomic>
#include <cstddef>

namespace sluice::http {

/// Bytes of request bodies held at once across every connection.
// From a request's head to its answer: bounds the memory many large bodies
// take together, where body_limit bounds one. Thread-safe; outlives every
// budget_share of it.
class body_budget {
 public:
  explicit body_budget(size_t capacity) : capacity_(capacity) {}

  size_t capacity() const { return capacity_; }

  /// Takes `n` bytes if they fit; a body larger than the whole budget never does.
  bool take(size_t n);

  /// Gives back `n` bytes taken before.
  void give(size_t n);

 private:
  const size_t capacity_;
  std::atomic<size_t> used_{0};
};

/// An I/O thread's share of the body budget.
// Small bodies are served from bytes it took from the shared budget before,
// so most requests touch no shared cache line. What it holds counts as used
// and goes back to the budget when it is destroyed. One thread only.
class budget_share {
 public:
  explicit budget_share(body_budget& b);
  ~budget_share();
  budget_share(const budget_share&) = delete;
  budget_share& operator=(const budget_share&) = delete;

  /// Takes `n` bytes, from what the share holds or else from the budget;
  /// false: the budget cannot spare them (the request is answered 503).
  bool take(size_t n);

  /// Gives back `n` bytes taken before; beyond two chunks they go back to the budget.
  void give(size_t n);

 private:
  body_budget& budget_;
  const size_t chunk_;
  size_t held_ = 0;
};

} // namespace sluice::http
