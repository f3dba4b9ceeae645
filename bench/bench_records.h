// What the log benchmarks share: a scratch directory and a group of
// order-sized records.
#pragma once

#include "log/write_batch.h"

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <string>

namespace sluice::bench {

/// $SLUICE_BENCH_DIR/name or ./bench-data/name, empty (keep it on the disk
/// the data directory uses: /tmp may be tmpfs).
inline std::filesystem::path bench_dir(const std::string& name) {
  const char* base = std::getenv("SLUICE_BENCH_DIR");
  auto dir = std::filesystem::path(base ? base : "bench-data") / name;
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

/// `n` 120-byte records, the size of an order.item_added event with ids.
inline log::write_batch make_batch(int64_t n) {
  static const std::string data(33, 'd');
  log::write_batch b;
  for (int64_t i = 0; i < n; ++i)
    b.add({0, static_cast<uint64_t>(i + 1), 1'795'600'800'000'000, "order.item_added", "ORD-0000104729",
           "cmd-7f3a9b21-0001", data});
  return b;
}

} // namespace sluice::bench
