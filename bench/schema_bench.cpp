// Reading the log and evolving aggregates with the upcaster on the path
// (SPEC §12), as recovery does: without it (the read before schema
// versions), with it over current events (a lookup per record), and with it
// over version-1 events (every item_added decoded, upcast, re-encoded).
#include "builtin/builtin.h"
#include "domain/order.h"
#include "log/event_log.h"
#include "log/write_batch.h"

#include <benchmark/benchmark.h>

#include <filesystem>
#include <map>
#include <string>

using namespace sluice;

namespace {

constexpr int k_orders = 10'000, k_items = 9; // 100,000 events

// A log of k_orders orders of k_items adds each, written once per schema.
const std::filesystem::path& log_dir(uint16_t item_schema) {
  static std::map<uint16_t, std::filesystem::path> dirs;
  auto& dir = dirs[item_schema];
  if (!dir.empty())
    return dir;
  dir = std::filesystem::temp_directory_path() / ("sluice-bench-schema-" + std::to_string(item_schema));
  std::filesystem::remove_all(dir);
  auto log = log::event_log::open({dir, log::durability::none});
  if (!log)
    throw std::runtime_error(log.error().message);
  for (int o = 0; o < k_orders; ++o) {
    log::write_batch b;
    std::string id = "ORD-" + std::to_string(o), created, item;
    codec::encode_binary(domain::order::created{"CUST-" + std::to_string(o % 100)}, created);
    b.add({0, 1, 0, "order.created", id, {}, created, 1});
    for (int i = 0; i < k_items; ++i) {
      item.clear();
      std::string product = "usb cable " + std::to_string(i);
      if (item_schema == 1)
        codec::encode_binary(domain::order::item_added_v1{product, 1, codec::money{499}}, item);
      else
        codec::encode_binary(domain::order::item_added{product, 1, codec::money{499}, "SKU"}, item);
      b.add({0, static_cast<uint64_t>(i) + 2, 0, "order.item_added", id, {}, item, item_schema});
    }
    (*log)->append_and_wait(std::move(b));
  }
  return dir;
}

// range(0): 0 no upcaster over version-2 events, 1 upcaster over version 2, 2 upcaster over version 1.
void BM_ReadEvolve(benchmark::State& state) {
  auto mode = state.range(0);
  log::options o{log_dir(mode == 2 ? 1 : 2), log::durability::none};
  if (mode > 0)
    o.upcaster = &builtin::model().types();
  auto log = log::event_log::open(o);
  if (!log)
    throw std::runtime_error(log.error().message);
  auto& type = domain::order::type();
  uint64_t events = 0;
  for (auto _ : state) {
    auto s = type.make_state();
    (*log)->read(1, SIZE_MAX, [&](const log::record& r) {
      if (r.version == 1) // each order's events are contiguous here
        s = type.make_state();
      benchmark::DoNotOptimize(type.evolve(*s, r.type, r.data));
      ++events;
      return true;
    });
  }
  state.SetItemsProcessed(static_cast<int64_t>(events));
}
BENCHMARK(BM_ReadEvolve)->ArgName("mode")->Arg(0)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond);

} // namespace
