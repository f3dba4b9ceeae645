#include "base/checksum.h"

#include <xxhash.h>

namespace sluice {

uint32_t checksum32(const void* data, size_t size) noexcept { return static_cast<uint32_t>(XXH3_64bits(data, size)); }

uint64_t checksum64(const void* data, size_t size) noexcept { return XXH3_64bits(data, size); }

} // namespace sluice
