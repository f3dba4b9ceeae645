// A domain that is neither orders nor accounts, defined in the test tree the
// way a user of the framework defines theirs: a `tally` aggregate (open,
// add; never above its limit) and a `tallies` view of each tally's total.
#pragma once

#include "domain/model.h"

namespace sluice::testing::tally {

const domain::aggregate_type& type();

/// tallies: tally id → {"tally_id", "total", "adds"}.
domain::view_definition tallies_view();

/// tally and tallies.
const domain::model& model();

} // namespace sluice::testing::tally
