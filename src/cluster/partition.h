// Which partition an aggregate belongs to (SPEC §14): the same answer on
// every node and every version, since ownership and the stream depend on it.
#pragma once

#include "base/checksum.h"

#include <cstdint>
#include <string_view>

namespace sluice::cluster {

/// XXH3-64 of the aggregate id, modulo the partition count (> 0).
inline uint32_t partition_of(std::string_view aggregate_id, uint32_t partitions) {
  return static_cast<uint32_t>(checksum64(aggregate_id.data(), aggregate_id.size()) % partitions);
}

} // namespace sluice::cluster
