// A domain that is neither orders nor accounts, defined in the test tree the
// way a user of the framework defines theirs: a `tally` aggregate (open,
// add; never above its limit) and a `tallies` view of each tally's total.
#pragma once

#include "domain/model.h"

#include <atomic>

namespace sluice::testing::tally {

const domain::aggregate_type& type();

/// tallies: tally id → {"tally_id", "total", "adds"}.
domain::view_definition tallies_view();

/// tallies version 2: {"tally_id", "total", "adds", "mean"}. Its apply
/// waits while hold_v2() is true, for tests that look at a build midway.
domain::view_definition tallies_v2_view();
std::atomic<bool>& hold_v2();

/// tally and tallies.
const domain::model& model();

} // namespace sluice::testing::tally
