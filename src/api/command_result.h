// The wire form of a command's answer (SPEC §5), shared by the HTTP API,
// batch NDJSON and the command-line tools.
#pragma once

#include "codec/json_writer.h"
#include "domain/aggregate.h"
#include "domain/errc.h"

#include <string_view>

namespace sluice::api {

/// HTTP status for an outcome: 200, 409 (conflict) or 422 (rejected).
int http_status(const domain::outcome& o);

/// {"ok":true,"aggregate_id","version","position","events"[,"duplicate":true]} or
/// the error body; with `with_status` the batch form adds "status".
void write_command_result(codec::json_writer& w, std::string_view aggregate_id, const domain::outcome& o,
                          uint64_t last_position, bool with_status);

/// {"ok":false,"error":{"code","message"}} (plus "status" in batch form).
void write_error(codec::json_writer& w, int status, std::string_view code, std::string_view message,
                 bool with_status);

} // namespace sluice::api
