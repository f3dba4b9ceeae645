// The logic of one read model (view): which events change which keys, and
// how a key's value renders. One projector instance serves one shard.
#pragma once

#include "codec/json_writer.h"
#include "log/record.h"

#include <cstdint>
#include <memory>
#include <string_view>

namespace sluice::views {

/// Receives the keys an event changed.
class key_sink {
 public:
  virtual void changed(std::string_view key) = 0;

 protected:
  ~key_sink() = default;
};

/// Not thread-safe: owned by one shard.
class projector {
 public:
  virtual ~projector() = default;

  /// Applies `r` if it concerns this shard and reports every key it changed.
  virtual void apply(const log::record& r, key_sink& changed) = 0;

  /// Writes the current JSON value of `key`, a key this projector reported.
  virtual void render(std::string_view key, codec::json_writer& w) const = 0;
};

/// Which of `shards` shards owns `key`. Stable across runs and builds.
uint32_t shard_of(std::string_view key, uint32_t shards);

} // namespace sluice::views
