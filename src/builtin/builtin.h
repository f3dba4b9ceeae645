// The example domains of SPEC §3 as one domain model: the order and account
// aggregates and their views. The `sluice` binary serves it; a server of
// another domain is built the same way (docs/domain-guide.md).
#pragma once

#include "domain/model.h"

namespace sluice::builtin {

/// order, account and transfer, with order_summary, customer_orders,
/// order_stats, account_balance and transfer_status, and the transfers
/// process.
const domain::model& model();

} // namespace sluice::builtin
