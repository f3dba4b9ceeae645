#include "api/command_result.h"

namespace sluice::api {

int http_status(const domain::outcome& o) {
  switch (o.result) {
    case domain::outcome::kind::accepted:
    case domain::outcome::kind::duplicate: return 200;
    case domain::outcome::kind::conflict: return 409;
    case domain::outcome::kind::rejected: return 422;
  }
  return 500;
}

void write_error(codec::json_writer& w, int status, std::string_view code, std::string_view message,
                 bool with_status) {
  w.begin_object().key("ok").boolean(false);
  if (with_status)
    w.key("status").integer(status);
  w.key("error").begin_object().key("code").string(code).key("message").string(message).end_object();
  w.end_object();
}

void write_command_result(codec::json_writer& w, std::string_view aggregate_id, const domain::outcome& o,
                          uint64_t last_position, bool with_status) {
  using kind = domain::outcome::kind;
  switch (o.result) {
    case kind::accepted:
    case kind::duplicate:
      w.begin_object().key("ok").boolean(true);
      if (with_status)
        w.key("status").integer(200);
      w.key("aggregate_id").string(aggregate_id).key("version").uinteger(o.version);
      w.key("position").uinteger(o.result == kind::duplicate ? o.position : last_position);
      w.key("events").uinteger(o.events);
      if (o.result == kind::duplicate)
        w.key("duplicate").boolean(true);
      w.end_object();
      return;
    case kind::conflict:
      w.begin_object().key("ok").boolean(false);
      if (with_status)
        w.key("status").integer(409);
      w.key("error").begin_object().key("code").string("conflict").key("message").string(o.message);
      w.key("actual_version").uinteger(o.version).end_object();
      w.end_object();
      return;
    case kind::rejected:
      write_error(w, 422, "rejected", o.message, with_status);
      return;
  }
}

} // namespace sluice::api
