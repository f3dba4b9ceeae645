// The set of aggregate types a server knows, and lookups by name.
#pragma once

#include "domain/aggregate_type.h"

#include <initializer_list>
#include <optional>
#include <span>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace sluice::domain {

/// Immutable after construction; safe to share between threads.
class registry {
 public:
  struct command_ref {
    const aggregate_type* type;
    uint16_t kind;
  };

  /// `types` must outlive the registry; names must be unique.
  registry(std::initializer_list<const aggregate_type*> types);

  /// The built-in domains of SPEC §3: order and account.
  static const registry& builtin();

  /// The command named `full_name` ("order.add_item"), if any.
  std::optional<command_ref> find_command(std::string_view full_name) const;

  /// The aggregate type named `name` ("order"), or null.
  const aggregate_type* find_type(std::string_view name) const;

  /// The aggregate type an event type belongs to (the part before '.'), or null.
  const aggregate_type* type_of_event(std::string_view event_type) const;

  std::span<const aggregate_type* const> types() const { return types_; }

 private:
  std::vector<const aggregate_type*> types_;
  std::unordered_map<std::string_view, command_ref> commands_;
};

} // namespace sluice::domain
