// The engine's view of one aggregate type (a "decider"): how to decode its
// commands, decide them against state, and evolve state by events.
//
// Each type is written as a plain module (see order.h, account.h) and made
// an aggregate_type by aggregate_type_of<Module>; the engine never sees the
// concrete state or payload types.
#pragma once

#include "domain/command.h"

#include <expected>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace simdjson::dom {
class object;
}
namespace sluice::codec {
class json_writer;
}

namespace sluice::domain {

/// State of one aggregate instance; opaque to the engine.
class aggregate_state {
 public:
  virtual ~aggregate_state() = default;
};

/// Accepted (events were appended to the output) or a rejection message.
using decision = std::expected<void, std::string>;

/// Stateless and immutable after construction: every method may be called
/// from any thread at once.
class aggregate_type {
 public:
  virtual ~aggregate_type() = default;

  /// "order"
  virtual std::string_view name() const noexcept = 0;

  /// Full command type names, "order.create", …; a command's `kind` indexes this.
  virtual std::span<const std::string_view> command_names() const noexcept = 0;

  /// Full event type names this type emits and evolves by.
  virtual std::span<const std::string_view> event_names() const noexcept = 0;

  /// The current schema version (SPEC §12) of each event of event_names().
  virtual std::span<const uint16_t> event_schemas() const noexcept = 0;

  /// Rewrites `data`, event `index` of event_names() at schema `schema`,
  /// as the current schema into `out` through the event's upcasters. False
  /// if the type has no such version or the data does not decode.
  virtual bool upcast(size_t index, uint16_t schema, std::string_view data, std::string& out) const = 0;

  /// State of an aggregate that does not exist yet.
  virtual std::unique_ptr<aggregate_state> make_state() const = 0;

  /// Validates the JSON payload of command `kind` and appends its binary
  /// form to `out`. On failure: a message naming the field (SPEC 400
  /// invalid_command).
  virtual std::expected<void, std::string> decode_payload(uint16_t kind, const simdjson::dom::object& payload,
                                                          std::string& out) const = 0;

  /// Decides command `kind` (binary `payload`) against `state`. Accepted:
  /// appends one or more events to `out`. Rejected: `out` is unchanged.
  /// Does not change `state`; the caller evolves it by the events.
  virtual decision decide(const aggregate_state& state, uint16_t kind, std::string_view payload,
                          event_list& out) const = 0;

  /// Applies one event. False if `event_type` is not this type's or `data`
  /// does not decode (a log written by another build).
  virtual bool evolve(aggregate_state& state, std::string_view event_type, std::string_view data) const = 0;

  /// Writes the event's data as a JSON object. False as for evolve().
  virtual bool write_event_json(std::string_view event_type, std::string_view data, codec::json_writer& out) const = 0;

  /// A hash of the state's field list (SPEC §9 snapshots): it changes when
  /// the state's layout does. 0 if the state has no field list: its
  /// aggregates are then rebuilt from the log alone.
  virtual uint64_t state_fingerprint() const noexcept { return 0; }

  /// Appends the binary form of `state` (only if state_fingerprint() != 0).
  virtual void encode_state(const aggregate_state& state, std::string& out) const {
    (void)state;
    (void)out;
  }

  /// Reads encode_state()'s form into `state`. False if it does not decode.
  virtual bool decode_state(std::string_view in, aggregate_state& state) const {
    (void)in;
    (void)state;
    return false;
  }
};

} // namespace sluice::domain
