// Little-endian loads and stores for on-disk and wire formats.
#pragma once

#include <cstdint>
#include <cstring>

namespace sluice {

inline void store_u16(char* p, uint16_t v) { std::memcpy(p, &v, sizeof v); }
inline void store_u32(char* p, uint32_t v) { std::memcpy(p, &v, sizeof v); }
inline void store_u64(char* p, uint64_t v) { std::memcpy(p, &v, sizeof v); }

inline uint16_t load_u16(const char* p) {
  uint16_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
inline uint32_t load_u32(const char* p) {
  uint32_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
inline uint64_t load_u64(const char* p) {
  uint64_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
              "on-disk formats are little-endian and stored with memcpy");

} // namespace sluice
