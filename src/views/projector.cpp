#include "views/projector.h"

#include "base/checksum.h"
#include "views/order_views.h"

#include <array>

namespace sluice::views {

uint32_t shard_of(std::string_view key, uint32_t shards) {
  return shards <= 1 ? 0 : checksum32(key.data(), key.size()) % shards;
}

std::span<const view_definition> builtin_views() {
  // A new view is one projector and one line here.
  static const std::array<view_definition, 4> views{{
      {"order_summary", &make_order_summary},
      {"customer_orders", &make_customer_orders},
      {"order_stats", &make_order_stats},
      {"account_balance", &make_account_balance},
  }};
  return views;
}

} // namespace sluice::views
