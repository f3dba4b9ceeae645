#include "domain/model.h"

#include <fmt/format.h>

#include <algorithm>

namespace sluice::domain {

bool valid_name(std::string_view name) {
  return !name.empty() && name.size() <= 64 &&
         std::ranges::all_of(name, [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'; });
}

std::expected<model, model_error> model::make(const std::vector<const aggregate_type*>& types,
                                              std::vector<view_definition> views,
                                              std::vector<process_definition> processes) {
  if (types.empty())
    return std::unexpected(model_error{model_errc::no_type, "a domain needs at least one aggregate type"});
  auto reg = registry::make(types);
  if (!reg)
    return std::unexpected(std::move(reg.error()));
  for (size_t i = 0; i < views.size(); ++i) {
    auto& v = views[i];
    if (!valid_name(v.name))
      return std::unexpected(
          model_error{model_errc::bad_name, fmt::format("view name \"{}\": use 1 to 64 of a-z, 0-9 and _", v.name)});
    if (v.version == 0)
      return std::unexpected(
          model_error{model_errc::bad_version, fmt::format("view \"{}\" has version 0; versions start at 1", v.name)});
    if (!v.make)
      return std::unexpected(model_error{
          model_errc::no_projector, fmt::format("view \"{}\" version {} has no make function", v.name, v.version)});
    for (size_t j = 0; j < i; ++j)
      if (views[j].name == v.name && views[j].version == v.version)
        return std::unexpected(model_error{
            model_errc::duplicate_view, fmt::format("view \"{}\" version {} is registered twice", v.name, v.version)});
  }
  for (size_t i = 0; i < processes.size(); ++i) {
    auto& p = processes[i];
    auto bad = [&](std::string why) { return std::unexpected(model_error{model_errc::bad_process, std::move(why)}); };
    if (!valid_name(p.name))
      return bad(fmt::format("process name \"{}\": use 1 to 64 of a-z, 0-9 and _", p.name));
    if (!p.make)
      return bad(fmt::format("process \"{}\" has no make function", p.name));
    if (!reg->find_type(p.reads))
      return bad(fmt::format("process \"{}\" reads \"{}\", which is no registered aggregate type", p.name, p.reads));
    for (size_t j = 0; j < i; ++j)
      if (processes[j].name == p.name)
        return bad(fmt::format("process \"{}\" is registered twice", p.name));
  }
  return model(std::move(*reg), std::move(views), std::move(processes));
}

std::vector<const view_definition*> model::served_views() const {
  std::vector<const view_definition*> out;
  for (auto& v : views_) {
    auto it = std::ranges::find_if(out, [&](auto* o) { return o->name == v.name; });
    if (it == out.end())
      out.push_back(&v);
    else if ((*it)->version < v.version)
      *it = &v;
  }
  return out;
}

} // namespace sluice::domain
