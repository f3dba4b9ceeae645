// Event JSON (SPEC §5) for the log API, aggregate history and event stream.
#pragma once

#include "codec/json_writer.h"
#include "domain/registry.h"
#include "log/record.h"

namespace sluice::domain {

/// Writes `r` as one Event JSON object. An event type that `types` does not
/// know (a log from another build) is written with "data": null.
void write_event_json(const registry& types, const log::record& r, codec::json_writer& out);

} // namespace sluice::domain
