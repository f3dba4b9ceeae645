#include "domain/registry.h"

#include "domain/account.h"
#include "domain/order.h"

#include <stdexcept>

namespace sluice::domain {

registry::registry(std::initializer_list<const aggregate_type*> types) : types_(types) {
  for (auto* t : types_) {
    auto names = t->command_names();
    for (size_t i = 0; i < names.size(); ++i) {
      if (!commands_.emplace(names[i], command_ref{t, static_cast<uint16_t>(i)}).second)
        throw std::logic_error("duplicate command type");
    }
  }
}

const registry& registry::builtin() {
  // A new aggregate type is one module and one entry here.
  static const registry r{
      &order::type(),
      &account::type(),
  };
  return r;
}

std::optional<registry::command_ref> registry::find_command(std::string_view full_name) const {
  auto it = commands_.find(full_name);
  if (it == commands_.end())
    return std::nullopt;
  return it->second;
}

const aggregate_type* registry::find_type(std::string_view name) const {
  for (auto* t : types_)
    if (t->name() == name)
      return t;
  return nullptr;
}

const aggregate_type* registry::type_of_event(std::string_view event_type) const {
  auto dot = event_type.find('.');
  return dot == std::string_view::npos ? nullptr : find_type(event_type.substr(0, dot));
}

} // namespace sluice::domain
