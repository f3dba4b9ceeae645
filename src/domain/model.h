// A domain as a value: the aggregate types and the views one server serves.
// Users of the framework build one with model::make() and hand it to
// engine::options (or to app::run); nothing in sluice names a domain of its
// own. Registration checks the names once, at start, and says what is wrong.
#pragma once

#include "domain/process.h"
#include "domain/registry.h"

#include <cstdint>
#include <expected>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace sluice::views {
class projector;
}

namespace sluice::domain {

/// A view sluice serves: its name, its version (SPEC §10) and how to make
/// the projector of one of its shards.
struct view_definition {
  std::string_view name; ///< static storage: lower-case letters, digits, '_'
  uint32_t version = 1;
  std::unique_ptr<views::projector> (*make)(uint32_t shard, uint32_t shards) = nullptr;
};

enum class model_errc {
  bad_name,          ///< a type or view name is empty or has characters other than a-z 0-9 _
  duplicate_type,    ///< two aggregate types of one name
  unprefixed,        ///< a command or event name does not start with "<type>."
  duplicate_command, ///< one command name twice
  duplicate_event,   ///< one event name twice
  bad_schema,        ///< an event's schema version is 0
  bad_version,       ///< a view's version is 0
  duplicate_view,    ///< one view name and version twice
  no_projector,      ///< a view without a `make` function
  no_type,           ///< a model with no aggregate type
  bad_process,       ///< a process without a `make` function, reading no registered type, or twice
};

constexpr std::string_view to_string(model_errc e) {
  switch (e) {
    case model_errc::bad_name: return "bad_name";
    case model_errc::duplicate_type: return "duplicate_type";
    case model_errc::unprefixed: return "unprefixed";
    case model_errc::duplicate_command: return "duplicate_command";
    case model_errc::duplicate_event: return "duplicate_event";
    case model_errc::bad_schema: return "bad_schema";
    case model_errc::bad_version: return "bad_version";
    case model_errc::duplicate_view: return "duplicate_view";
    case model_errc::no_projector: return "no_projector";
    case model_errc::no_type: return "no_type";
    case model_errc::bad_process: return "bad_process";
  }
  return "?";
}

struct model_error {
  model_errc code;
  std::string message;
};

/// Immutable once made; safe to share between threads. The aggregate types
/// and view names it is made of must outlive it (they are static in
/// practice: a type is a function-local static, a name a literal).
class model {
 public:
  static std::expected<model, model_error> make(const std::vector<const aggregate_type*>& types,
                                                std::vector<view_definition> views,
                                                std::vector<process_definition> processes = {});

  const registry& types() const { return types_; }

  /// Every view definition, in registration order.
  std::span<const view_definition> views() const { return views_; }

  /// The definitions the engine serves: per view name, its highest version.
  std::vector<const view_definition*> served_views() const;

  /// The process managers the engine runs (SPEC §13).
  std::span<const process_definition> processes() const { return processes_; }

 private:
  model(registry types, std::vector<view_definition> views, std::vector<process_definition> processes)
      : types_(std::move(types)), views_(std::move(views)), processes_(std::move(processes)) {}

  registry types_;
  std::vector<view_definition> views_;
  std::vector<process_definition> processes_;
};

/// True if `name` is a valid type or view name: 1–64 of a-z, 0-9 and '_'.
bool valid_name(std::string_view name);

} // namespace sluice::domain
