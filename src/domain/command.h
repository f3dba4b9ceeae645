// A decoded command and a decided event, as they travel through the engine.
#pragma once

#include "base/short_string.h"

#include <boost/container/small_vector.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace sluice::domain {

class aggregate_type;

/// A command that passed envelope and payload validation (SPEC §2), ready
/// for its aggregate. Owns its bytes; cheap to move between threads.
struct command {
  const aggregate_type* type = nullptr; ///< never null once decoded
  uint16_t kind = 0;                    ///< index into type->command_names()
  short_string aggregate_id;
  short_string command_id; ///< empty: no idempotency key
  std::optional<uint64_t> expected_version;
  std::string payload; ///< binary fields of the command's payload type
};

/// An event as decided, before the log gives it a position and version.
struct new_event {
  std::string_view type; ///< static storage: the event type's name
  std::string data;      ///< binary fields of the event's payload type
  uint16_t schema = 1;   ///< the event type's schema version (SPEC §12)
};

/// The events one command decides: almost always one, kept inline so that
/// an accepted command does not allocate for its list.
using event_list = boost::container::small_vector<new_event, 1>;

} // namespace sluice::domain
