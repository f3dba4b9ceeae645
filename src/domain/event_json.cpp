#include "domain/event_json.h"

namespace sluice::domain {

void write_event_json(const registry& types, const log::record& r, codec::json_writer& out) {
  auto dot = r.type.find('.');
  out.begin_object();
  out.key("position").uinteger(r.position);
  out.key("aggregate_type").string(r.type.substr(0, dot == std::string_view::npos ? r.type.size() : dot));
  out.key("aggregate_id").string(r.aggregate_id);
  out.key("version").uinteger(r.version);
  out.key("type").string(r.type);
  out.key("schema").uinteger(r.schema);
  out.key("time").timestamp(r.time_us);
  out.key("command_id");
  if (r.command_id.empty())
    out.null();
  else
    out.string(r.command_id);
  out.key("data");
  auto* t = types.type_of_event(r.type);
  if (!t || !t->write_event_json(r.type, r.data, out))
    out.null();
  out.end_object();
}

} // namespace sluice::domain
