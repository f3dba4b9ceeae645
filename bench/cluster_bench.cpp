// Appends to the cluster's store (SPEC §14) on a running JetStream cluster,
// beside the local log with fsync in the same run:
//   scripts/cluster.sh up
//   SLUICE_NATS_URLS=nats://127.0.0.1:4222,nats://127.0.0.1:4223,nats://127.0.0.1:4224 build/bench/bench_cluster
// Each append is one group (one stream message), as the journal forms them;
// up to 64 are in flight. The mirror is under $SLUICE_BENCH_DIR or ./bench-data.
#include "cluster/jetstream_store.h"
#include "log/event_log.h"

#include "bench_records.h"

#include <benchmark/benchmark.h>
#include <unistd.h>

#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <sstream>
#include <string>

using namespace sluice;

namespace {

using bench::bench_dir;
using bench::make_batch;

void pipeline(benchmark::State& state, log::store& s) {
  constexpr int k_in_flight = 64;
  const int64_t per_group = state.range(0);
  const auto templ = make_batch(per_group);
  std::mutex mu;
  std::condition_variable cv;
  int in_flight = 0;
  int64_t failed = 0;
  for (auto _ : state) {
    {
      std::unique_lock lk(mu);
      cv.wait(lk, [&] { return in_flight < k_in_flight; });
      ++in_flight;
    }
    s.append(templ, [&](auto r) {
      std::lock_guard lk(mu);
      failed += r ? 0 : 1;
      --in_flight;
      cv.notify_one();
    });
  }
  std::unique_lock lk(mu);
  cv.wait(lk, [&] { return in_flight == 0; });
  if (failed > 0)
    state.SkipWithError("appends failed");
  state.SetItemsProcessed(state.iterations() * per_group);
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(templ.bytes()));
  auto h = s.sync_durations().read(); // append to durable, per group
  state.counters["mean_ms"] = h.count ? static_cast<double>(h.sum_ns) / static_cast<double>(h.count) / 1e6 : 0;
}

void BM_JetStreamAppend(benchmark::State& state) {
  const char* urls = std::getenv("SLUICE_NATS_URLS");
  if (!urls) {
    state.SkipWithError("SLUICE_NATS_URLS is not set (scripts/cluster.sh up)");
    return;
  }
  cluster::jetstream_options o;
  std::stringstream ss(urls);
  for (std::string u; std::getline(ss, u, ',');)
    o.servers.push_back(u);
  static int n = 0;
  o.stream = "BENCH_" + std::to_string(::getpid()) + "_" + std::to_string(n++);
  o.subject = "bench." + o.stream;
  o.mirror_dir = bench_dir("jetstream");
  auto s = cluster::jetstream_store::open(o);
  if (!s) {
    state.SkipWithError(s.error().message.c_str());
    return;
  }
  pipeline(state, **s);
  (*s)->close();
}
BENCHMARK(BM_JetStreamAppend)->Arg(1)->Arg(16)->Arg(256)->Arg(4096)->UseRealTime();

void BM_LocalLogAppendFsync(benchmark::State& state) {
  auto dir = bench_dir("local");
  auto log = std::move(*log::event_log::open({dir, log::durability::fsync}));
  pipeline(state, *log);
}
BENCHMARK(BM_LocalLogAppendFsync)->Arg(1)->Arg(16)->Arg(256)->Arg(4096)->UseRealTime();

} // namespace
