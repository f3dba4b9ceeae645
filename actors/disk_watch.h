// The return from a full disk: commands are refused from the first failed
// append until every command in flight is answered, the disk has room and
// the aggregates that ran ahead of the log are rebuilt from it.
//
// Owns its flag, its lock and one thread, which sleeps until trip() and
// then tries `resume` every `interval` until it succeeds. No actor system
// needed: the runtime passes what resuming means (tests/actors/disk_watch_test.cpp).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

namespace sluice::actors {

class disk_watch {
 public:
  /// `resume` (on the watch thread) waits up to `interval` for the commands
  /// in flight, asks the log to take appends again, and rebuilds what ran
  /// ahead of it; true when commands can be taken again.
  disk_watch(std::function<bool()> resume, std::chrono::milliseconds interval);
  ~disk_watch();
  disk_watch(const disk_watch&) = delete;
  disk_watch& operator=(const disk_watch&) = delete;

  /// Starts the thread (once, from the controlling thread).
  void start();
  /// The log could not append: refuse commands until resumed. Any thread.
  void trip();
  /// Any thread: whether commands are refused for a full disk.
  bool unavailable() const { return unavailable_.load(std::memory_order_acquire); }
  /// Ends the thread (a resume in progress finishes first). Idempotent.
  void stop();

 private:
  void loop();

  std::function<bool()> resume_;
  std::chrono::milliseconds interval_;
  std::atomic<bool> unavailable_{false};
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false; ///< under mu_
  std::thread thread_;
};

} // namespace sluice::actors
