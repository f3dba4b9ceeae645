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

  /// Checkpoints (SPEC §9): the layout of what save() writes, which must
  /// change whenever that layout does (a checkpoint of another layout is
  /// refused, not misread); 0, the default, takes no checkpoints and the
  /// view is always rebuilt from the log.
  virtual uint64_t checkpoint_fingerprint() const { return 0; }

  /// Appends the model to `out`.
  virtual void save(std::string& /*out*/) const {}

  /// Replaces the model, of a fresh projector, with what save() wrote;
  /// false (the projector then left fresh or discarded) if `in` is not that.
  virtual bool load(std::string_view /*in*/) { return false; }
};

/// Which of `shards` shards owns `key`. Stable across runs and builds.
uint32_t shard_of(std::string_view key, uint32_t shards);

} // namespace sluice::views
