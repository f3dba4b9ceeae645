// Start-up's one-way gate: recovery runs on its own thread, and the engine
// is ready once it has succeeded (SPEC §7: /readyz, commands not_ready
// before). Owns its state, its lock and the thread; no actor system needed
// (tests/actors/disk_watch_test.cpp also covers this).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

namespace sluice::actors {

class recovery_gate {
 public:
  recovery_gate() = default;
  ~recovery_gate() { join(); }
  recovery_gate(const recovery_gate&) = delete;
  recovery_gate& operator=(const recovery_gate&) = delete;

  /// Runs `recover` on a new thread; when it returns true, the gate opens
  /// and then `after` runs on that thread (work that needs a ready engine:
  /// builds, process managers). False: failed for good. Once.
  void start(std::function<bool()> recover, std::function<void()> after);
  /// Any thread: recovery has succeeded.
  bool ready() const { return ready_.load(std::memory_order_acquire); }
  /// Waits until recovery ends or `timeout` passes; true if it succeeded.
  bool wait(std::chrono::milliseconds timeout);
  /// Waits for the thread (recovery itself watches the engine's stopping flag).
  void join();

 private:
  enum class state { running, done, failed };
  std::atomic<bool> ready_{false};
  std::mutex mu_;
  std::condition_variable cv_;
  state state_ = state::running; ///< under mu_
  std::thread thread_;
};

} // namespace sluice::actors
