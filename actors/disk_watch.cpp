#include "actors/disk_watch.h"

#include "base/thread_name.h"

namespace sluice::actors {

disk_watch::disk_watch(std::function<bool()> resume, std::chrono::milliseconds interval)
    : resume_(std::move(resume)), interval_(interval) {}

disk_watch::~disk_watch() { stop(); }

void disk_watch::start() {
  thread_ = std::thread([this] {
    name_this_thread("sluice.watch");
    loop();
  });
}

void disk_watch::trip() {
  if (!unavailable_.exchange(true)) {
    std::lock_guard lk(mu_); // not between the thread's check and its wait
    cv_.notify_all();
  }
}

void disk_watch::stop() {
  {
    std::lock_guard lk(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable())
    thread_.join();
}

void disk_watch::loop() {
  std::unique_lock lk(mu_);
  for (;;) {
    cv_.wait(lk, [&] { return stop_ || unavailable_.load(); });
    if (stop_)
      return;
    lk.unlock();
    bool resumed = resume_();
    if (resumed)
      unavailable_.store(false, std::memory_order_release);
    lk.lock();
    if (!resumed)
      cv_.wait_for(lk, interval_, [&] { return stop_; });
  }
}

} // namespace sluice::actors
