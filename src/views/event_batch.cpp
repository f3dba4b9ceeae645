#include "views/event_batch.h"

#include "log/format.h"

#include <cassert>

namespace sluice::views {

// The entry's narrow lengths hold whatever the log's format lets a record
// carry (write_batch::add refuses more before anything is appended).
static_assert(log::format::k_max_type <= UINT8_MAX && log::format::k_max_command_id <= UINT8_MAX &&
              log::format::k_max_aggregate_id <= UINT16_MAX && log::format::k_max_body <= UINT32_MAX / 2);

void event_batch::add(const log::record& r) {
  assert(fits(r) && r.type.size() <= log::format::k_max_type && r.command_id.size() <= log::format::k_max_command_id &&
         r.aggregate_id.size() <= log::format::k_max_aggregate_id);
  entries_.push_back({r.position, r.version, r.time_us, static_cast<uint32_t>(bytes_.size()),
                      static_cast<uint16_t>(r.aggregate_id.size()), static_cast<uint8_t>(r.type.size()),
                      static_cast<uint8_t>(r.command_id.size()), static_cast<uint32_t>(r.data.size()), r.schema});
  bytes_.append(r.type).append(r.aggregate_id).append(r.command_id).append(r.data);
}

log::record event_batch::operator[](size_t i) const {
  const auto& e = entries_[i];
  const char* p = bytes_.data() + e.offset;
  log::record r;
  r.position = e.position;
  r.version = e.version;
  r.time_us = e.time_us;
  r.type = {p, e.type_len};
  p += e.type_len;
  r.aggregate_id = {p, e.aggregate_id_len};
  p += e.aggregate_id_len;
  r.command_id = {p, e.command_id_len};
  p += e.command_id_len;
  r.data = {p, e.data_len};
  r.schema = e.schema;
  return r;
}

} // namespace sluice::views
