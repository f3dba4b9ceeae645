// What one message costs the actor runtime when, as the router's chains do,
// one actor messages many others in turn, each waiting for its message: on
// one worker, with CAF 0.17's work-sharing scheduler or sluice's own
// (actors/scheduler.cpp). The message carries an int; its handler counts it.
#include "actors/scheduler.h"

#include <caf/all.hpp>

#include <benchmark/benchmark.h>

#include <atomic>
#include <condition_variable>
#include <mutex>

namespace {

using go_atom = caf::atom_constant<caf::atom("go")>;

struct tally {
  std::atomic<uint64_t> handled{0};
  uint64_t goal = 0; ///< written before the round's go message
  std::mutex mu;
  std::condition_variable cv;
  bool reached = false;

  void count() {
    if (handled.fetch_add(1, std::memory_order_relaxed) + 1 != goal)
      return;
    std::lock_guard lk(mu);
    reached = true;
    cv.notify_one();
  }
};

caf::behavior target(caf::event_based_actor*, tally* t) {
  return {[=](int) { t->count(); }};
}

caf::behavior sender(caf::event_based_actor* self, const std::vector<caf::actor>& targets) {
  return {[=](go_atom, uint64_t n) {
    for (uint64_t i = 0; i < n; ++i)
      self->send(targets[i % targets.size()], 1);
  }};
}

void BM_ActorMessages(benchmark::State& state) {
  bool own = state.range(0) != 0;
  auto actors = static_cast<size_t>(state.range(1));
  constexpr uint64_t k_round = 10000;

  caf::actor_system_config cfg;
  cfg.set("scheduler.max-threads", 1);
  if (own)
    sluice::actors::use_scheduler(cfg);
  else
    cfg.set("scheduler.policy", caf::atom("sharing"));
  caf::actor_system sys{cfg};
  tally t;
  std::vector<caf::actor> targets;
  for (size_t i = 0; i < actors; ++i)
    targets.push_back(sys.spawn(target, &t));
  auto s = sys.spawn(sender, targets);

  for (auto _ : state) {
    {
      std::lock_guard lk(t.mu);
      t.reached = false;
    }
    t.goal = t.handled.load() + k_round;
    caf::anon_send(s, go_atom::value, k_round);
    std::unique_lock lk(t.mu);
    t.cv.wait(lk, [&] { return t.reached; });
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * k_round));
  caf::anon_send_exit(s, caf::exit_reason::user_shutdown);
  for (auto& a : targets)
    caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
}
BENCHMARK(BM_ActorMessages)
    ->ArgNames({"own_scheduler", "actors"})
    ->Args({0, 100})
    ->Args({1, 100})
    ->Args({0, 10000})
    ->Args({1, 10000})
    ->UseRealTime()
    ->Unit(benchmark::kNanosecond);

} // namespace
