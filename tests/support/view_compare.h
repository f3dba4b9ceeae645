// Views as the engine serves them, and as a fresh replay of the log computes
// them: after any restart the two must be equal.
#pragma once

#include "builtin/builtin.h"
#include "engine/engine.h"
#include "views/view_shard.h"

#include <catch2/catch.hpp>

#include <chrono>
#include <future>
#include <map>
#include <string>
#include <thread>

namespace sluice::testing {

/// The built-in model's views.
inline constexpr const char* k_builtin_views[] = {"order_summary", "customer_orders", "order_stats", "account_balance"};

/// Every key of `view` with its JSON, computed by one shard from every
/// event in `log`.
inline std::map<std::string, std::string> recompute(const log::store& log, std::string_view view,
                                                    const domain::model& model = builtin::model()) {
  const domain::view_definition* def = nullptr;
  for (auto* d : model.served_views())
    if (d->name == view)
      def = d;
  REQUIRE(def);
  views::view_shard shard(def->make(0, 1));
  views::event_batch batch;
  REQUIRE(log.read(1, SIZE_MAX, [&](const log::record& r) {
    batch.add(r);
    return true;
  }));
  std::vector<views::view_change> changes;
  shard.apply(batch, changes);
  std::map<std::string, std::string> out;
  std::vector<std::pair<std::string, views::view_shard::entry>> all;
  shard.list("", SIZE_MAX, all);
  for (auto& [k, e] : all)
    out[k] = *e.value;
  return out;
}

/// Every key of `view` as `e` serves it.
inline std::map<std::string, std::string> served(engine::engine& e, std::string_view view) {
  std::map<std::string, std::string> out;
  std::string after;
  for (;;) {
    std::promise<engine::view_page> p;
    auto f = p.get_future();
    REQUIRE(e.list_view(view, after, 1000, [&p](engine::view_page pg) { p.set_value(std::move(pg)); }));
    auto page = f.get();
    for (auto& it : page.items)
      out[it.key] = *it.value;
    if (!page.more)
      return out;
    after = page.items.back().key;
  }
}

/// Waits until every shard of every view of `e` has applied the log's end.
inline void await_views(engine::engine& e) {
  auto end = e.log().last_position();
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  for (;;) {
    auto m = e.snapshot();
    bool caught_up = true;
    for (auto& [name, at] : m.view_positions)
      caught_up = caught_up && at >= end;
    if (caught_up)
      return;
    REQUIRE(std::chrono::steady_clock::now() < deadline);
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

} // namespace sluice::testing
