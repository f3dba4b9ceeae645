// Event log append throughput, beside the machine's raw disk limits
// measured in the same run. The directory is $SLUICE_BENCH_DIR or
// ./bench-data (keep it on the disk the data directory uses: /tmp may be tmpfs).
#include "log/event_log.h"

#include "bench_records.h"

#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <string>

using namespace sluice;

namespace {

using bench::bench_dir;
using bench::make_batch;

// Keeps up to `k_in_flight` batches queued, as many aggregates feeding the
// journal would, so that group commit has something to group.
void append(benchmark::State& state, log::durability mode) {
  constexpr int k_in_flight = 64;
  auto dir = bench_dir(mode == log::durability::fsync ? "append-fsync" : "append-none");
  auto log = std::move(*log::event_log::open({dir, mode}));
  const int64_t per_batch = state.range(0);
  const auto templ = make_batch(per_batch);

  std::mutex mu;
  std::condition_variable cv;
  int in_flight = 0;
  for (auto _ : state) {
    {
      std::unique_lock lk(mu);
      cv.wait(lk, [&] { return in_flight < k_in_flight; });
      ++in_flight;
    }
    log->append(templ, [&](auto) {
      std::lock_guard lk(mu);
      --in_flight;
      cv.notify_one();
    });
  }
  std::unique_lock lk(mu);
  cv.wait(lk, [&] { return in_flight == 0; });
  state.SetItemsProcessed(state.iterations() * per_batch);
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(templ.bytes()));
  state.counters["syncs"] = benchmark::Counter(static_cast<double>(log->syncs()), benchmark::Counter::kIsRate);
  state.counters["record_bytes"] = static_cast<double>(templ.bytes()) / static_cast<double>(per_batch);
  lk.unlock();
  log.reset();
  std::filesystem::remove_all(dir);
}

void BM_LogAppendFsync(benchmark::State& state) { append(state, log::durability::fsync); }
BENCHMARK(BM_LogAppendFsync)->Arg(1)->Arg(16)->Arg(256)->Arg(4096)->UseRealTime();

void BM_LogAppendNone(benchmark::State& state) { append(state, log::durability::none); }
BENCHMARK(BM_LogAppendNone)->Arg(1)->Arg(16)->Arg(256)->Arg(4096)->UseRealTime();

// One record at a time, waiting for each: the latency of a durable append
// with nothing to group it with (compare with the raw rounds below).
void BM_LogAppendAndWait(benchmark::State& state) {
  auto dir = bench_dir("append-wait");
  auto log = std::move(*log::event_log::open({dir, log::durability::fsync}));
  const auto templ = make_batch(1);
  for (auto _ : state)
    if (!log->append_and_wait(templ))
      state.SkipWithError("append failed");
  state.SetItemsProcessed(state.iterations());
  log.reset();
  std::filesystem::remove_all(dir);
}
BENCHMARK(BM_LogAppendAndWait)->UseRealTime();

// Raw limit 1: how many 4 KiB write + fdatasync rounds the disk does per
// second, appending (arg 0: each sync also commits the file's new size) or
// over blocks written before (arg 1: data only, as the log's zeros ahead give).
void BM_DiskFdatasync4K(benchmark::State& state) {
  auto dir = bench_dir("raw-sync");
  int fd = ::open((dir / "f").c_str(), O_RDWR | O_CREAT | O_TRUNC, 0644);
  std::string block(4096, 'x');
  const off_t written = state.range(0) ? 256 << 20 : 0;
  if (written) {
    std::string zeros(1 << 20, '\0');
    for (off_t o = 0; o < written; o += static_cast<off_t>(zeros.size()))
      if (::pwrite(fd, zeros.data(), zeros.size(), o) != static_cast<ssize_t>(zeros.size()))
        state.SkipWithError("write failed");
    ::fdatasync(fd);
  }
  off_t off = 0;
  for (auto _ : state) {
    if (::pwrite(fd, block.data(), block.size(), off) != 4096 || ::fdatasync(fd) != 0)
      state.SkipWithError("write/fdatasync failed");
    off += 4096;
    if (written && off == written)
      off = 0;
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * 4096);
  ::close(fd);
  std::filesystem::remove_all(dir);
}
BENCHMARK(BM_DiskFdatasync4K)->ArgName("overwrite")->Arg(0)->Arg(1)->UseRealTime();

// Raw limit 2: sequential write bandwidth, 1 MiB writes with one fdatasync per 64 MiB.
void BM_DiskSequentialWrite(benchmark::State& state) {
  auto dir = bench_dir("raw-seq");
  int fd = ::open((dir / "f").c_str(), O_RDWR | O_CREAT | O_TRUNC, 0644);
  std::string block(1 << 20, 'x');
  off_t off = 0;
  for (auto _ : state) {
    if (::pwrite(fd, block.data(), block.size(), off) != static_cast<ssize_t>(block.size()))
      state.SkipWithError("write failed");
    off += static_cast<off_t>(block.size());
    if (off % (64 << 20) == 0)
      ::fdatasync(fd);
  }
  ::fdatasync(fd);
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(block.size()));
  ::close(fd);
  std::filesystem::remove_all(dir);
}
BENCHMARK(BM_DiskSequentialWrite)->UseRealTime();

} // namespace
