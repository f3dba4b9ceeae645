#include "actors/scheduler.h"

#include <caf/all.hpp>
#include <catch2/catch.hpp>

#include <atomic>
#include <future>
#include <thread>
#include <vector>

using namespace std::chrono_literals;

namespace {

using ping_atom = caf::atom_constant<caf::atom("ping")>;

std::unique_ptr<caf::actor_system> make_system(caf::actor_system_config& cfg, size_t workers) {
  cfg.set("scheduler.max-threads", workers);
  sluice::actors::use_scheduler(cfg);
  return std::make_unique<caf::actor_system>(cfg);
}

// Two actors that pass a message back and forth until told to stop: each
// send finds the other waiting, so one of them is always ready to run.
caf::behavior volley(caf::event_based_actor* self, std::atomic<uint64_t>* hits) {
  return {
      [=](ping_atom, const caf::actor& other) {
        hits->fetch_add(1, std::memory_order_relaxed);
        self->send(other, ping_atom::value, caf::actor_cast<caf::actor>(self));
      },
  };
}

caf::behavior counter(caf::event_based_actor*, std::atomic<uint64_t>* n) {
  return {[=](int) { n->fetch_add(1, std::memory_order_relaxed); }};
}

// Spawned with an argument: CAF 0.17 dereferences a null tuple for a
// function spawned without any (UBSan reports it).
using arrival = std::promise<std::chrono::steady_clock::time_point>;
caf::behavior signal(caf::event_based_actor*, arrival* arrived) {
  return {[=](int) { arrived->set_value(std::chrono::steady_clock::now()); }};
}

} // namespace

TEST_CASE("a worker busy with its own jobs still takes messages from other threads", "[actors][scheduler]") {
  caf::actor_system_config cfg;
  auto sys = make_system(cfg, 1);
  std::atomic<uint64_t> hits{0};
  auto a = sys->spawn(volley, &hits);
  auto b = sys->spawn(volley, &hits);
  caf::anon_send(a, ping_atom::value, b);
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (hits.load() < 1000 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::yield();
  REQUIRE(hits.load() >= 1000); // the volley runs

  arrival arrived;
  auto late = sys->spawn(signal, &arrived);
  caf::anon_send(late, 1);
  // Taking other threads' jobs only once its own ran out, the worker would
  // never get to this one: the volley always leaves one behind.
  REQUIRE(arrived.get_future().wait_for(10s) == std::future_status::ready);
  // It was taken in the middle of the volley, which goes on after it.
  auto at_arrival = hits.load();
  std::this_thread::sleep_for(50ms);
  CHECK(hits.load() > at_arrival);
  caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(b, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(late, caf::exit_reason::user_shutdown);
}

TEST_CASE("every message from many threads reaches many actors", "[actors][scheduler]") {
  auto workers = GENERATE(1u, 2u, 4u);
  CAPTURE(workers);
  std::atomic<uint64_t> n{0};
  constexpr size_t k_actors = 500, k_threads = 4, k_each = 5000;
  {
    caf::actor_system_config cfg;
    auto sys = make_system(cfg, workers);
    std::vector<caf::actor> actors;
    for (size_t i = 0; i < k_actors; ++i)
      actors.push_back(sys->spawn(counter, &n));
    std::vector<std::thread> senders;
    for (size_t t = 0; t < k_threads; ++t)
      senders.emplace_back([&, t] {
        for (size_t i = 0; i < k_each; ++i)
          caf::anon_send(actors[(i * 7 + t) % k_actors], 1);
      });
    for (auto& s : senders)
      s.join();
    for (auto& a : actors)
      caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
    // Destroying the system waits for every actor and stops the workers.
  }
  CHECK(n.load() == k_threads * k_each);
}

TEST_CASE("actors on several workers message each other", "[actors][scheduler]") {
  auto workers = GENERATE(1u, 2u);
  CAPTURE(workers);
  caf::actor_system_config cfg;
  auto sys = make_system(cfg, workers);
  std::atomic<uint64_t> hits{0};
  std::vector<caf::actor> pairs;
  for (int i = 0; i < 8; ++i) {
    pairs.push_back(sys->spawn(volley, &hits));
    pairs.push_back(sys->spawn(volley, &hits));
    caf::anon_send(pairs[pairs.size() - 2], ping_atom::value, pairs.back());
  }
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (hits.load() < 100000 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::yield();
  CHECK(hits.load() >= 100000);
  for (auto& a : pairs)
    caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
}

TEST_CASE("delayed messages arrive through the scheduler's clock", "[actors][scheduler]") {
  caf::actor_system_config cfg;
  auto sys = make_system(cfg, 1);
  arrival arrived;
  auto a = sys->spawn(signal, &arrived);
  auto sent = std::chrono::steady_clock::now();
  caf::delayed_anon_send(a, 50ms, 1);
  auto f = arrived.get_future();
  REQUIRE(f.wait_for(10s) == std::future_status::ready);
  CHECK(f.get() - sent >= 50ms);
  caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
}
