// The command bus: producers (front-end threads) push tickets into a
// lock-free queue; the router actor drains it in bulk. The first push into
// an idle bus sends the router one `drain` message.
#pragma once

#include "actors/messages.h"

#include <concurrentqueue/concurrentqueue.h>

#include <atomic>

namespace sluice::actors {

class command_bus {
 public:
  /// Where drain messages go; set once before the first push.
  void bind(caf::actor router) { router_ = std::move(router); }

  /// Thread-safe, lock-free.
  void push(ticket_ptr t) {
    queue_.enqueue(std::move(t));
    if (!scheduled_.exchange(true, std::memory_order_acq_rel))
      caf::anon_send(router_, drain_atom::value);
  }

  /// Takes up to `max` tickets. Router only.
  size_t take(std::vector<ticket_ptr>& out, size_t max) {
    out.resize(max);
    size_t n = queue_.try_dequeue_bulk(out.begin(), max);
    out.resize(n);
    return n;
  }

  /// After a drain that emptied the queue: true if the caller must drain
  /// again (a push raced in and found the bus still scheduled).
  bool idle() {
    scheduled_.store(false, std::memory_order_release);
    return queue_.size_approx() > 0 && !scheduled_.exchange(true, std::memory_order_acq_rel);
  }

  size_t depth() const { return queue_.size_approx(); }

 private:
  moodycamel::ConcurrentQueue<ticket_ptr> queue_;
  std::atomic<bool> scheduled_{false};
  caf::actor router_;
};

} // namespace sluice::actors
