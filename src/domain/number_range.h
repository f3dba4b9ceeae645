// Finds the number that made a JSON text fail to parse because it does not
// fit a 64-bit integer or a double (1e400, 2^64): such a text is well-formed
// JSON with a value out of range, which deserves an answer naming the field
// rather than "malformed JSON".
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace sluice::domain {

/// The dotted path ("payload.qty", "items.2") of the first number in
/// `json` that fits neither a 64-bit integer nor a double; nullopt if there
/// is none or the text is malformed before it. Any thread.
std::optional<std::string> out_of_range_number(std::string_view json);

} // namespace sluice::domain
