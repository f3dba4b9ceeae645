// low_stock: per warehouse, the items whose available stock (on hand less
// reserved) is below their reorder level.
#pragma once

#include "views/projector.h"

namespace inventory {

/// warehouse → {"warehouse", "items": [{"stock_id", "available", "reorder_level"}]} in stock id order.
std::unique_ptr<sluice::views::projector> make_low_stock(uint32_t shard, uint32_t shards);

} // namespace inventory
