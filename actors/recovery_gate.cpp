#include "actors/recovery_gate.h"

#include "base/thread_name.h"

namespace sluice::actors {

void recovery_gate::start(std::function<bool()> recover, std::function<void()> after) {
  thread_ = std::thread([this, recover = std::move(recover), after = std::move(after)] {
    name_this_thread("sluice.recover");
    bool ok = recover();
    {
      std::lock_guard lk(mu_);
      state_ = ok ? state::done : state::failed;
      ready_.store(ok, std::memory_order_release);
    }
    cv_.notify_all();
    if (ok)
      after();
  });
}

bool recovery_gate::wait(std::chrono::milliseconds timeout) {
  std::unique_lock lk(mu_);
  cv_.wait_for(lk, timeout, [&] { return state_ != state::running; });
  return state_ == state::done;
}

void recovery_gate::join() {
  if (thread_.joinable())
    thread_.join();
}

} // namespace sluice::actors
