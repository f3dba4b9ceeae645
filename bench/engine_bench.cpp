// End to end in one process: commands in → decided by aggregate actors →
// durable in the log → answered → applied by the views. Commands are decoded
// before the clock starts (decoding is measured in bench_codec).
#include "builtin/builtin.h"
#include "domain/command_decoder.h"
#include "engine/engine.h"
#include "views/view_shard.h"

#include <benchmark/benchmark.h>
#include <fmt/format.h>
#include <malloc.h>

#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <future>
#include <mutex>

using namespace sluice;

namespace {

// Heap bytes in use (glibc): unlike RSS it shrinks and grows with the
// engine even when freed memory is reused between runs.
size_t heap_bytes() { return mallinfo2().uordblks; }

std::filesystem::path bench_dir(const std::string& name) {
  const char* base = std::getenv("SLUICE_BENCH_DIR");
  auto dir = std::filesystem::path(base ? base : "bench-data") / name;
  std::filesystem::remove_all(dir);
  return dir;
}

// Submits with at most `window` commands unanswered, like many clients would.
class driver {
 public:
  driver(engine::engine& e, size_t window) : e_(e), window_(window) {}

  void submit(domain::command c) {
    {
      std::unique_lock lk(mu_);
      cv_.wait(lk, [&] { return in_flight_ < window_; });
      ++in_flight_;
    }
    e_.submit(std::move(c), [this](const engine::command_result& r) {
      if (r.status != engine::command_status::done || r.outcome.result != domain::outcome::kind::accepted)
        failures_.fetch_add(1, std::memory_order_relaxed);
      last_position_.store(std::max(last_position_.load(std::memory_order_relaxed), r.position),
                           std::memory_order_relaxed);
      std::lock_guard lk(mu_);
      if (--in_flight_ < window_)
        cv_.notify_one();
    });
  }

  void wait_all() {
    std::unique_lock lk(mu_);
    cv_.wait(lk, [&] { return in_flight_ == 0; });
  }

  uint64_t failures() const { return failures_.load(); }

 private:
  engine::engine& e_;
  size_t window_;
  std::mutex mu_;
  std::condition_variable cv_;
  size_t in_flight_ = 0;
  std::atomic<uint64_t> failures_{0};
  std::atomic<uint64_t> last_position_{0};
};

// A ready engine on `dir`, or null after telling the benchmark why not.
std::unique_ptr<engine::engine> start_engine(benchmark::State& state, const std::filesystem::path& dir,
                                             log::durability mode) {
  engine::options o;
  o.model = &builtin::model();
  o.data_dir = dir;
  o.durability = mode;
  auto started = engine::start(o);
  if (!started) {
    state.SkipWithError(started.error().message.c_str());
    return nullptr;
  }
  (*started)->wait_ready(std::chrono::seconds(30));
  return std::move(*started);
}

void wait_views(engine::engine& e) {
  std::promise<void> p;
  auto f = p.get_future();
  e.read_view("account_balance", "ACC-0", e.log().last_position(), std::chrono::seconds(60),
              [&](const engine::view_read&) { p.set_value(); });
  f.wait();
}

// Deposits spread over `aggregates` accounts (all opened before timing),
// with a fresh command_id each when `ids` (as sluice-load sends them).
void BM_EndToEnd(benchmark::State& state) {
  auto mode = state.range(0) ? log::durability::fsync : log::durability::none;
  auto aggregates = static_cast<size_t>(state.range(1));
  bool ids = state.range(2) != 0;
  auto dir = bench_dir(fmt::format("e2e-{}-{}-{}", state.range(0), aggregates, state.range(2)));
  auto started = start_engine(state, dir, mode);
  if (!started)
    return;
  auto& e = *started;
  domain::command_decoder decoder{builtin::model().types()};
  driver d(e, 65536);

  size_t heap_before = heap_bytes();
  for (size_t i = 0; i < aggregates; ++i)
    d.submit(*decoder.decode(
        fmt::format(R"({{"type":"account.open","aggregate_id":"ACC-{}","payload":{{"owner":"owner-{}"}}}})", i, i)));
  d.wait_all();
  wait_views(e);
  size_t heap_after = heap_bytes();

  std::vector<domain::command> deposits;
  for (size_t i = 0; i < aggregates; ++i)
    deposits.push_back(*decoder.decode(
        fmt::format(R"({{"type":"account.deposit","aggregate_id":"ACC-{}","payload":{{"amount":1.25}}}})", i)));

  size_t i = 0;
  uint64_t seq = 0;
  for (auto _ : state) {
    if (ids) {
      auto c = deposits[i];
      c.command_id = fmt::format("c-{}", ++seq);
      d.submit(std::move(c));
    } else {
      d.submit(deposits[i]);
    }
    if (++i == deposits.size())
      i = 0;
  }
  d.wait_all();
  wait_views(e);
  state.SetItemsProcessed(state.iterations());
  state.counters["failures"] = static_cast<double>(d.failures());
  auto m = e.snapshot();
  state.counters["syncs"] = static_cast<double>(m.log_syncs);
  // Everything one live account costs: its actor, state, router entry and view rows.
  state.counters["heap_per_aggregate"] =
      static_cast<double>(heap_after > heap_before ? heap_after - heap_before : 0) / static_cast<double>(aggregates);
  e.stop();
  std::filesystem::remove_all(dir);
}
BENCHMARK(BM_EndToEnd)
    ->ArgNames({"fsync", "aggregates", "ids"})
    ->Args({0, 10000, 0})
    ->Args({0, 100000, 0})
    ->Args({1, 10000, 0})
    ->Args({1, 100000, 0})
    ->Args({1, 10000, 1})
    ->UseRealTime()
    ->MinTime(3)
    ->Unit(benchmark::kNanosecond);

// What one live order costs: `orders` orders created with one item each,
// spread over 1,000 customers, then the heap in use divided by the orders.
// Counts its actor, state, router slot, history index and the rows of every
// view it appears in (order_summary, its customer's customer_orders entry).
void BM_HeapPerOrder(benchmark::State& state) {
  auto orders = static_cast<size_t>(state.range(0));
  auto dir = bench_dir(fmt::format("orders-{}", orders));
  auto started = start_engine(state, dir, log::durability::none);
  if (!started)
    return;
  auto& e = *started;
  domain::command_decoder decoder{builtin::model().types()};
  driver d(e, 65536);
  size_t heap_before = heap_bytes();
  for (auto _ : state) {
    for (size_t i = 0; i < orders; ++i) {
      d.submit(*decoder.decode(fmt::format(
          R"({{"type":"order.create","aggregate_id":"ORD-{}","payload":{{"customer_id":"C-{}"}}}})", i, i % 1000)));
      d.submit(*decoder.decode(fmt::format(
          R"({{"type":"order.add_item","aggregate_id":"ORD-{}","payload":{{"product":"P-{}","qty":1,"price":9.99}}}})",
          i, i % 50)));
    }
    d.wait_all();
    wait_views(e);
  }
  size_t heap_after = heap_bytes();
  state.counters["failures"] = static_cast<double>(d.failures());
  auto per_order = [&](size_t before, size_t after) {
    return static_cast<double>(after > before ? after - before : 0) / static_cast<double>(orders);
  };
  state.counters["heap_per_order"] = per_order(heap_before, heap_after);
  // The read side's share: the same events replayed into a fresh set of
  // every view's shards, one shard each (as many rows as the engine's two).
  {
    size_t views_before = heap_bytes();
    std::vector<views::view_shard> shards;
    for (auto& def : builtin::model().views())
      shards.emplace_back(def.make(0, 1));
    std::vector<views::view_change> changes;
    e.log().read(1, SIZE_MAX, [&](const log::record& r) {
      views::event_batch one;
      one.add(r);
      for (auto& s : shards)
        s.apply(one, changes);
      changes.clear();
      return true;
    });
    changes.shrink_to_fit();
    state.counters["views_per_order"] = per_order(views_before, heap_bytes());
  }
  e.stop();
  std::filesystem::remove_all(dir);
}
BENCHMARK(BM_HeapPerOrder)->ArgNames({"orders"})->Arg(100000)->Iterations(1)->Unit(benchmark::kMillisecond);

} // namespace
