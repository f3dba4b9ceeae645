// The set of aggregate types a server knows, lookups by name, and the
// upcasting of stored events to their current schema (SPEC §12).
#pragma once

#include "domain/aggregate_type.h"
#include "log/record.h"

#include <optional>
#include <span>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace sluice::domain {

struct model_error;

/// Immutable once made; safe to share between threads. Made by
/// model::make(), which checks the names first.
class registry final : public log::record_upcaster {
 public:
  struct command_ref {
    const aggregate_type* type;
    uint16_t kind;
  };
  struct event_ref {
    const aggregate_type* type;
    uint16_t index;  ///< into type->event_names()
    uint16_t schema; ///< the current schema version
  };

  /// Checks that names are well formed, prefixed by their type and unique;
  /// `types` must outlive the registry.
  static std::expected<registry, model_error> make(const std::vector<const aggregate_type*>& types);

  registry(registry&&) noexcept = default;
  registry& operator=(registry&&) noexcept = default;
  registry(const registry&) = delete;
  registry& operator=(const registry&) = delete;
  ~registry() = default;

  /// The command named `full_name` ("order.add_item"), if any.
  std::optional<command_ref> find_command(std::string_view full_name) const;

  /// The event type named `full_name` ("order.item_added"), or null.
  const event_ref* find_event(std::string_view full_name) const;

  /// The aggregate type named `name` ("order"), or null.
  const aggregate_type* find_type(std::string_view name) const;

  /// The aggregate type an event type belongs to, or null if no type emits it.
  const aggregate_type* type_of_event(std::string_view event_type) const;

  std::span<const aggregate_type* const> types() const { return types_; }

  /// A record of an older schema than its type's current one is rewritten
  /// through the type's upcasters; any other record is left as it is.
  bool upcast(log::record& r, std::string& scratch) const override;

 private:
  registry() = default;

  std::vector<const aggregate_type*> types_;
  std::unordered_map<std::string_view, command_ref> commands_;
  std::unordered_map<std::string_view, event_ref> events_;
  // The events with a schema above 1: the only ones a read may upcast. A
  // domain has few, so a scan of them is cheaper than a hash per record.
  std::vector<std::pair<std::string_view, event_ref>> versioned_;
};

} // namespace sluice::domain
