// Runs one process manager (SPEC §13) against an engine: follows the
// durable log from the process's checkpoint, asks the manager for steps and
// sends them through the normal command path, hands their answers back.
// One thread of its own; the engine's threads only queue answers for it.
#pragma once

#include "domain/process.h"
#include "engine/engine.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string_view>
#include <thread>

namespace sluice::engine {

class process_runner {
 public:
  /// `dir` holds the checkpoint (<data>/processes); `delay` is the drill's
  /// pause before each step (0: none).
  process_runner(engine& e, const domain::process_definition& def, std::filesystem::path dir,
                 std::chrono::milliseconds delay);
  ~process_runner();
  process_runner(const process_runner&) = delete;
  process_runner& operator=(const process_runner&) = delete;

  /// Starts following the log (once the engine is ready).
  void start();
  /// Stops the thread; steps in flight are answered into the void and
  /// taken again, by their ids, at the next start.
  void stop();

  std::string_view name() const { return def_->name; }
  process_stats stats() const;

  /// Retention must keep the log from this position on: the first event of
  /// the oldest unfinished instance, or where the runner reads next. A start
  /// from an older checkpoint on a log cut there since loses nothing: every
  /// instance before the cut had ended.
  uint64_t keeps_from() const { return keeps_from_.load(std::memory_order_relaxed); }

 private:
  struct answer;
  struct inbox; // shared with the engine's callbacks, which may outlive the runner
  struct outgoing;

  void run();
  void consider(std::string_view instance);
  void send_due();
  uint64_t resume_from() const;
  void save_checkpoint();

  engine* engine_;
  const domain::process_definition* def_;
  std::filesystem::path dir_;
  std::chrono::milliseconds delay_;
  std::unique_ptr<domain::process_manager> manager_;
  std::shared_ptr<inbox> inbox_;
  uint64_t listener_ = 0;
  std::thread thread_;
  std::atomic<uint64_t> keeps_from_{1};
  std::atomic<uint64_t> written_{1};
  std::atomic<uint64_t> unfinished_{0};
  std::atomic<uint64_t> accepted_{0}, duplicate_{0}, rejected_{0}, conflict_{0}, retried_{0};
  struct state;
  std::unique_ptr<state> st_; // the thread's own
};

} // namespace sluice::engine
