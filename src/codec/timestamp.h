// RFC 3339 UTC timestamps with millisecond precision, as events carry them.
#pragma once

#include <cstdint>
#include <string>

namespace sluice::codec {

/// Appends `us` (microseconds since the Unix epoch) as
/// "2026-11-25T10:00:00.123Z". Pure arithmetic: no locale, no syscalls.
void append_timestamp(std::string& out, int64_t us);

} // namespace sluice::codec
