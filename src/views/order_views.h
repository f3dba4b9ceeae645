// Projectors of the built-in domain's views (SPEC §3, §13).
#pragma once

#include "views/projector.h"

namespace sluice::views {

/// order_summary: order id → order_id, customer_id, status, item_count, total, version.
std::unique_ptr<projector> make_order_summary(uint32_t shard, uint32_t shards);

/// customer_orders: customer id → customer_id, order_count, orders[] in creation order.
std::unique_ptr<projector> make_customer_orders(uint32_t shard, uint32_t shards);
/// customer_orders version 2: adds total_spent, the total of the customer's confirmed orders.
std::unique_ptr<projector> make_customer_orders_v2(uint32_t shard, uint32_t shards);

/// order_stats: "all" → orders_created, orders_confirmed, orders_cancelled, items_added, revenue_confirmed.
std::unique_ptr<projector> make_order_stats(uint32_t shard, uint32_t shards);

/// account_balance: account id → account_id, owner, status, balance, version.
std::unique_ptr<projector> make_account_balance(uint32_t shard, uint32_t shards);

/// transfer_status: transfer id → transfer_id, from, to, amount, status, reason (SPEC §13).
std::unique_ptr<projector> make_transfer_status(uint32_t shard, uint32_t shards);

} // namespace sluice::views
