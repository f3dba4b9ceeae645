#include "domain/registry.h"

#include "domain/model.h"

#include <fmt/format.h>

namespace sluice::domain {

namespace {

std::unexpected<model_error> fail(model_errc code, std::string message) {
  return std::unexpected(model_error{code, std::move(message)});
}

// "order.add_item" for type "order": the type, a dot, a name of its own.
bool prefixed(std::string_view full, std::string_view type) {
  return full.size() > type.size() + 1 && full.starts_with(type) && full[type.size()] == '.' &&
         full.find('.', type.size() + 1) == std::string_view::npos;
}

} // namespace

std::expected<registry, model_error> registry::make(const std::vector<const aggregate_type*>& types) {
  registry r;
  for (auto* t : types) {
    if (!valid_name(t->name()))
      return fail(model_errc::bad_name,
                  fmt::format("aggregate type name \"{}\": use 1 to 64 of a-z, 0-9 and _", t->name()));
    if (r.find_type(t->name()))
      return fail(model_errc::duplicate_type, fmt::format("aggregate type \"{}\" is registered twice", t->name()));
    auto commands = t->command_names();
    for (size_t i = 0; i < commands.size(); ++i) {
      if (!prefixed(commands[i], t->name()))
        return fail(model_errc::unprefixed, fmt::format("command \"{}\" of aggregate type \"{}\" must be named "
                                                        "\"{}.<command>\"",
                                                        commands[i], t->name(), t->name()));
      if (!r.commands_.emplace(commands[i], command_ref{t, static_cast<uint16_t>(i)}).second)
        return fail(model_errc::duplicate_command, fmt::format("command \"{}\" is registered twice", commands[i]));
    }
    auto events = t->event_names();
    auto schemas = t->event_schemas();
    for (size_t i = 0; i < events.size(); ++i) {
      if (!prefixed(events[i], t->name()))
        return fail(model_errc::unprefixed, fmt::format("event \"{}\" of aggregate type \"{}\" must be named "
                                                        "\"{}.<event>\"",
                                                        events[i], t->name(), t->name()));
      if (schemas[i] == 0)
        return fail(model_errc::bad_schema,
                    fmt::format("event \"{}\" has schema version 0; versions start at 1", events[i]));
      event_ref ref{t, static_cast<uint16_t>(i), schemas[i]};
      if (!r.events_.emplace(events[i], ref).second)
        return fail(model_errc::duplicate_event, fmt::format("event \"{}\" is registered twice", events[i]));
      if (schemas[i] > 1)
        r.versioned_.emplace_back(events[i], ref);
    }
    r.types_.push_back(t);
  }
  return r;
}

std::optional<registry::command_ref> registry::find_command(std::string_view full_name) const {
  auto it = commands_.find(full_name);
  if (it == commands_.end())
    return std::nullopt;
  return it->second;
}

const registry::event_ref* registry::find_event(std::string_view full_name) const {
  auto it = events_.find(full_name);
  return it == events_.end() ? nullptr : &it->second;
}

const aggregate_type* registry::find_type(std::string_view name) const {
  for (auto* t : types_)
    if (t->name() == name)
      return t;
  return nullptr;
}

const aggregate_type* registry::type_of_event(std::string_view event_type) const {
  auto* e = find_event(event_type);
  return e ? e->type : nullptr;
}

bool registry::upcast(log::record& r, std::string& scratch) const {
  const event_ref* e = nullptr;
  for (auto& [name, ref] : versioned_)
    if (name == r.type) {
      e = &ref;
      break;
    }
  if (!e || r.schema >= e->schema)
    return false; // current, or newer than this build knows: readers report it
  scratch.clear();
  if (!e->type->upcast(e->index, r.schema, r.data, scratch))
    return false;
  r.data = scratch;
  r.schema = e->schema;
  return true;
}

} // namespace sluice::domain
