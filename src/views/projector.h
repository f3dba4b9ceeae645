// The logic of one read model (view): which events change which keys, and
// how a key's value renders. One projector instance serves one shard.
#pragma once

#include "codec/json_writer.h"
#include "log/record.h"

#include <cstdint>
#include <expected>
#include <memory>
#include <string>
#include <string_view>

namespace sluice::views {

/// What apply() did with one event: whether the key's value changed, or
/// why the event cannot be applied.
using apply_result = std::expected<bool, std::string>;

/// Not thread-safe: owned by one shard.
class projector {
 public:
  virtual ~projector() = default;

  /// The key of this shard that `r` concerns, or empty when none (every
  /// shard sees every event). Called once per event, in position order, for
  /// events that are then applied and for those parked instead (SPEC §10:
  /// the events of one key are applied in order, and parked together once
  /// one fails): it may record what routing later events needs (which
  /// customer an order is of), never anything the key's value shows. The
  /// view stays valid until the next call.
  virtual std::string_view route(const log::record& r) = 0;

  /// Applies `r` to `key`, what route() gave for it. An error leaves the
  /// model as it was; the view then parks the key's events (the error log).
  virtual apply_result apply(const log::record& r, std::string_view key) = 0;

  /// Writes the current JSON value of `key`, a key apply() changed.
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
