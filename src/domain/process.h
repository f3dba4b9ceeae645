// Process managers (SPEC §13): react to durable events by sending commands,
// for business operations that span aggregates. A manager is a state
// machine over instances (one transfer, one shipment …) whose recorded
// steps are events of an aggregate of its own; the engine's process runner
// feeds it the log from a checkpoint, sends the commands it asks for
// through the normal command path, and hands it their answers. It never
// waits: it is asked, per instance, for the one step to take next.
#pragma once

#include "base/checksum.h"
#include "codec/fields.h"
#include "domain/aggregate.h"
#include "domain/command.h"
#include "domain/registry.h"
#include "log/record.h"

#include <fmt/format.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sluice::domain {

/// A command a manager sends for one instance; `kind` is the manager's own
/// name for the step, handed back with the answer.
struct process_step {
  uint32_t kind = 0;
  command cmd;
};

/// Not thread-safe: the runner calls it from one thread.
///
/// The runner guarantees: events arrive in log order, each once per run;
/// at most one step per instance is outstanding, and next() is asked again
/// after its answer and after each event of the instance; before the log
/// is read to its end at start (recovery of the instances from their
/// recorded events) nothing is asked, then next() for every unfinished one.
/// A step whose answer is not a decision (overloaded, not ready, the log
/// failing) is sent again, unchanged, after a pause: steps must therefore
/// carry command ids derived from the instance and the step (step_id()),
/// so that a step sent again, or again after a crash, takes effect once.
class process_manager {
 public:
  virtual ~process_manager() = default;

  /// Folds one event of the aggregate type the process reads into its
  /// instances; returns the instance it concerns (empty: none). The view
  /// may point into `r`.
  virtual std::string_view on_event(const log::record& r) = 0;

  /// The step `instance` takes now, if any (none: it waits for an event,
  /// or it has ended).
  virtual std::optional<process_step> next(std::string_view instance) = 0;

  /// The decision on `step` of `instance`; an answer that no longer fits
  /// (the instance moved on meanwhile) is to be ignored.
  virtual void on_answer(std::string_view instance, const process_step& step, const outcome& o) = 0;

  /// The unfinished instances, oldest first.
  virtual std::vector<std::string> unfinished() const = 0;
  virtual size_t unfinished_count() const = 0;

  /// The position of the first event of the oldest unfinished instance (0:
  /// none): reading the log again from there recovers every instance.
  virtual uint64_t oldest_unfinished() const = 0;
};

/// A process sluice runs: its name (a-z 0-9 _), the aggregate type whose
/// events drive it, and how to make its manager.
struct process_definition {
  std::string_view name;
  std::string_view reads;
  std::unique_ptr<process_manager> (*make)(const registry& types) = nullptr;
};

/// The command id of `step` of `instance` of process `process`: the same
/// for every attempt, in every run. Long instance ids are hashed to fit the
/// command id's limit (XXH3-64 and the length).
inline std::string step_id(std::string_view process, std::string_view instance, std::string_view step) {
  constexpr size_t k_room = 120;
  if (process.size() + instance.size() + step.size() + 2 <= k_room)
    return fmt::format("{}/{}/{}", process, instance, step);
  return fmt::format("{}/#{:016x}.{}/{}", process, checksum64(instance.data(), instance.size()), instance.size(), step);
}

/// A command of type `C` to `aggregate_id`, as the decoder would have made
/// it from JSON; `type` is find_command(C::name) of the domain's registry.
template <class C>
command make_command(const registry::command_ref& type, std::string_view aggregate_id, std::string_view command_id,
                     const C& c) {
  command cmd;
  cmd.type = type.type;
  cmd.kind = type.kind;
  cmd.aggregate_id.assign(aggregate_id);
  cmd.command_id.assign(command_id);
  codec::encode_binary(c, cmd.payload);
  return cmd;
}

} // namespace sluice::domain
