// The transfers workload of sluice-load (SPEC §13); see transfers.cpp.
#pragma once

#include "driver.h"

namespace sluice::load {

report run_transfers(const options& opt);

} // namespace sluice::load
