#include "views/projector.h"

#include "base/checksum.h"

namespace sluice::views {

uint32_t shard_of(std::string_view key, uint32_t shards) {
  return shards <= 1 ? 0 : checksum32(key.data(), key.size()) % shards;
}

} // namespace sluice::views
