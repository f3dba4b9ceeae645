// The transfers process (SPEC §13): drives each requested transfer to its
// end through the account and transfer aggregates.
#pragma once

#include "domain/process.h"

namespace sluice::builtin {

/// Reads the transfer aggregate's events.
std::unique_ptr<domain::process_manager> make_transfers(const domain::registry& types);

} // namespace sluice::builtin
