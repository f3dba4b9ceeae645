// Record checksums: the low 32 bits of XXH3-64, which runs at memory speed
// without special instructions.
#pragma once

#include <cstddef>
#include <cstdint>

namespace sluice {

/// Checksum of `size` bytes at `data`. Thread-safe, pure.
uint32_t checksum32(const void* data, size_t size) noexcept;

/// All 64 bits of XXH3-64 (snapshot and checkpoint files, fingerprints).
uint64_t checksum64(const void* data, size_t size) noexcept;

} // namespace sluice
