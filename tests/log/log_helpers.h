// Helpers shared by the log tests.
#pragma once

#include "log/event_log.h"
#include "log/format.h"
#include "log/record_parser.h"

#include <catch2/catch.hpp>

#include <fstream>
#include <iterator>
#include <fmt/format.h>

#include <string>
#include <utility>
#include <vector>

namespace sluice::log::testing {

/// A record's fields, owned.
struct owned_record {
  uint64_t position = 0, version = 0;
  int64_t time_us = 0;
  std::string type, aggregate_id, command_id, data;

  static owned_record of(const record& r) {
    return {r.position,
            r.version,
            r.time_us,
            std::string(r.type),
            std::string(r.aggregate_id),
            std::string(r.command_id),
            std::string(r.data)};
  }
  friend bool operator==(const owned_record&, const owned_record&) = default;
};

/// The i-th record of a deterministic test sequence (position left 0).
inline owned_record sample(uint64_t i) {
  return {0,
          i / 3 + 1,
          static_cast<int64_t>(1'700'000'000'000'000 + i),
          i % 2 ? "order.item_added" : "order.created",
          fmt::format("ORD-{}", i % 17),
          i % 5 ? fmt::format("c-{}", i) : "",
          std::string(i % 23, static_cast<char>('a' + i % 26))};
}

inline record view(const owned_record& r) {
  return {r.position, r.version, r.time_us, r.type, r.aggregate_id, r.command_id, r.data};
}

/// Every record in the log, from position 1.
inline std::vector<owned_record> read_all(const store& log) {
  std::vector<owned_record> out;
  auto r = log.read(1, SIZE_MAX, [&](const record& rec) {
    out.push_back(owned_record::of(rec));
    return true;
  });
  REQUIRE(r);
  return out;
}

inline std::unique_ptr<event_log> open_log(const std::filesystem::path& dir, durability mode = durability::none,
                                           uint64_t segment_bytes = 64ull << 20) {
  auto r = event_log::open({dir, mode, segment_bytes});
  INFO((r ? "" : r.error().message));
  REQUIRE(r);
  return std::move(*r);
}

/// File offsets of the whole records of a segment file's bytes, and where they end.
inline std::pair<std::vector<size_t>, size_t> record_starts(const std::string& bytes) {
  std::vector<size_t> starts;
  size_t o = format::k_segment_header_size;
  while (o < bytes.size()) {
    auto p = parse_record(bytes.data() + o, bytes.size() - o);
    if (p.status != parse_status::ok)
      break;
    starts.push_back(o);
    o += p.size;
  }
  return {starts, o};
}

/// A file's bytes.
inline std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

/// Replaces a file's bytes.
inline void spit(const std::filesystem::path& p, std::string_view bytes) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

/// 30 records appended one at a time into 256-byte segments (several files).
inline void write_small_segments(const std::filesystem::path& dir) {
  auto log = open_log(dir, durability::none, 256);
  for (uint64_t i = 0; i < 30; ++i) {
    write_batch b;
    REQUIRE(b.add(view(sample(i))));
    REQUIRE(log->append_and_wait(std::move(b)));
  }
}

} // namespace sluice::log::testing
