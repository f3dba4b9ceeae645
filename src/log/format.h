// Byte layout of the event log; docs/log-format.md is the grammar.
// Everything is little-endian. Changing anything here changes the format.
#pragma once

#include <cstddef>
#include <cstdint>

namespace sluice::log::format {

// Segment file: "<base position, 20 digits>.log", a header, then records.
inline constexpr char k_segment_magic[8] = {'S', 'L', 'U', 'I', 'C', 'E', 'L', 'G'};
inline constexpr uint32_t k_version = 1;
inline constexpr size_t k_segment_header_size = 32;
inline constexpr size_t k_seg_off_magic = 0;      // 8 bytes
inline constexpr size_t k_seg_off_version = 8;    // u32
inline constexpr size_t k_seg_off_reserved = 12;  // u32, zero
inline constexpr size_t k_seg_off_base = 16;      // u64: position of the segment's first record
inline constexpr size_t k_seg_off_checksum = 24;  // u32: checksum of bytes [0, 24)
inline constexpr size_t k_seg_off_reserved2 = 28; // u32, zero

// Record: a fixed header, then type, aggregate id, command id and data.
inline constexpr size_t k_record_header_size = 40;
inline constexpr size_t k_off_checksum = 0;          // u32: checksum of bytes [4, 40 + length)
inline constexpr size_t k_off_length = 4;            // u32: bytes after the header
inline constexpr size_t k_off_magic = 8;             // u8: k_record_magic
inline constexpr size_t k_off_flags = 9;             // u8: k_flag_*
inline constexpr size_t k_off_type_len = 10;         // u8
inline constexpr size_t k_off_command_id_len = 11;   // u8
inline constexpr size_t k_off_position = 12;         // u64
inline constexpr size_t k_off_version = 20;          // u64
inline constexpr size_t k_off_time = 28;             // i64: microseconds since the Unix epoch
inline constexpr size_t k_off_aggregate_id_len = 36; // u16
inline constexpr size_t k_off_schema = 38;           // u16: schema version of data; 0 (before SPEC §12) reads as 1

inline constexpr uint8_t k_record_magic = 0xA7;
/// Set on the last record of each group commit (one write, one sync).
inline constexpr uint8_t k_flag_commit = 0x01;

inline constexpr uint32_t k_max_body = 16u << 20;
inline constexpr size_t k_max_type = 255;
inline constexpr size_t k_max_command_id = 255;
inline constexpr size_t k_max_aggregate_id = 65535;

} // namespace sluice::log::format
