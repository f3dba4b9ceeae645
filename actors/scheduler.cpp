#include "actors/scheduler.h"

#include "base/thread_name.h"

#include <caf/actor_system.hpp>
#include <caf/detail/thread_safe_actor_clock.hpp>
#include <caf/execution_unit.hpp>
#include <caf/logger.hpp>
#include <caf/resumable.hpp>
#include <caf/scheduler/abstract_coordinator.hpp>

#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace sluice::actors {

namespace {

using caf::resumable;

class coordinator;

class worker final : public caf::execution_unit {
 public:
  worker(coordinator& parent, caf::actor_system& sys) : execution_unit(&sys), parent_(parent) {}

  /// A job the one this worker runs made ready (it sent a message).
  void exec_later(resumable* job) override;

  void run();

  /// Jobs left behind at shutdown.
  std::deque<resumable*>& local() { return local_; }

 private:
  resumable* next();

  coordinator& parent_;
  // With one worker, the jobs it makes ready itself: no lock, no allocation
  // per job. With more, they go to the shared queue so any worker can take them.
  std::deque<resumable*> local_;
};

class coordinator final : public caf::scheduler::abstract_coordinator {
 public:
  explicit coordinator(caf::actor_system& sys) : abstract_coordinator(sys) {}

  static caf::actor_system::module* make(caf::actor_system& sys, caf::detail::type_list<>) {
    return new coordinator(sys);
  }

  /// A job made ready outside the workers (a thread of the front end or of
  /// the log, the clock): into the shared queue, waking a sleeping worker.
  void enqueue(resumable* job) override {
    bool wake;
    {
      std::lock_guard lk(mu_);
      shared_.push_back(job);
      has_shared_.store(true, std::memory_order_relaxed);
      wake = sleeping_ > 0;
    }
    if (wake)
      cv_.notify_one();
  }

  caf::actor_clock& clock() noexcept override { return clock_; }

  bool single() const { return workers_.size() == 1; }

  /// One worker: moves every shared job behind its own (FIFO across both).
  void take_all(std::deque<resumable*>& into, bool wait) {
    {
      std::unique_lock lk(mu_);
      if (wait)
        await(lk);
      taken_.swap(shared_);
      has_shared_.store(false, std::memory_order_relaxed);
    }
    into.insert(into.end(), taken_.begin(), taken_.end());
    taken_.clear();
  }

  /// More workers: the oldest shared job, waiting for one.
  resumable* take_one() {
    std::unique_lock lk(mu_);
    await(lk);
    auto* job = shared_.front();
    shared_.pop_front();
    return job;
  }

  bool has_shared() const { return has_shared_.load(std::memory_order_relaxed); }

 protected:
  void start() override {
    for (size_t i = 0; i < num_workers(); ++i)
      workers_.push_back(std::make_unique<worker>(*this, system()));
    for (auto& w : workers_)
      threads_.emplace_back([this, w = w.get()] {
        caf::logger::set_current_actor_system(&system());
        name_this_thread("sluice.actors");
        system().thread_started();
        w->run();
        system().thread_terminates();
      });
    timer_ = std::thread([this] {
      caf::logger::set_current_actor_system(&system());
      name_this_thread("sluice.clock");
      system().thread_started();
      clock_.run_dispatch_loop();
      system().thread_terminates();
    });
    abstract_coordinator::start(); // the utility actors (CAF's printer)
  }

  void stop() override {
    // One stop job per worker, as CAF's coordinator does: whichever worker
    // runs it leaves its loop, so each of them ends up taking one.
    struct stop_job final : resumable {
      resume_result resume(caf::execution_unit*, size_t) override { return shutdown_execution_unit; }
      void intrusive_ptr_add_ref_impl() override {}
      void intrusive_ptr_release_impl() override {}
    };
    std::vector<stop_job> stops(workers_.size());
    for (auto& s : stops)
      enqueue(&s);
    for (auto& t : threads_)
      t.join();
    stop_actors();
    for (auto& w : workers_)
      for (auto* job : w->local())
        cleanup_and_release(job);
    for (auto* job : shared_)
      cleanup_and_release(job);
    shared_.clear();
    clock_.cancel_dispatch_loop();
    timer_.join();
  }

 private:
  void await(std::unique_lock<std::mutex>& lk) {
    ++sleeping_;
    cv_.wait(lk, [this] { return !shared_.empty(); });
    --sleeping_;
  }

  caf::detail::thread_safe_actor_clock clock_;
  std::vector<std::unique_ptr<worker>> workers_;
  std::vector<std::thread> threads_;
  std::thread timer_;

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<resumable*> shared_;  ///< guarded by mu_
  std::deque<resumable*> taken_;   ///< one worker's scratch for take_all
  size_t sleeping_ = 0;            ///< guarded by mu_
  std::atomic<bool> has_shared_{false}; ///< a hint, read without the lock
};

void worker::exec_later(resumable* job) {
  if (parent_.single())
    local_.push_back(job);
  else
    parent_.enqueue(job);
}

resumable* worker::next() {
  if (!parent_.single())
    return parent_.take_one();
  // Shared jobs join behind the ones already here, so neither side starves:
  // an actor that keeps messaging itself still lets the front end's in.
  if (local_.empty() || parent_.has_shared())
    parent_.take_all(local_, local_.empty());
  auto* job = local_.front();
  local_.pop_front();
  return job;
}

void worker::run() {
  size_t throughput = parent_.max_throughput();
  for (;;) {
    auto* job = next();
    switch (job->resume(this, throughput)) {
      case resumable::resume_later: exec_later(job); break;
      case resumable::done:
      case resumable::awaiting_message: intrusive_ptr_release(job); break;
      case resumable::shutdown_execution_unit: return;
    }
  }
}

} // namespace

void use_scheduler(caf::actor_system_config& cfg) { cfg.load<coordinator>(); }

} // namespace sluice::actors
