// The example domains of SPEC §3 as one domain model: the order and account
// aggregates and their views. The `sluice` binary serves it; a server of
// another domain is built the same way (docs/domain-guide.md).
#pragma once

#include "domain/model.h"

namespace sluice::builtin {

/// order and account, with order_summary, customer_orders, order_stats and
/// account_balance.
const domain::model& model();

} // namespace sluice::builtin
