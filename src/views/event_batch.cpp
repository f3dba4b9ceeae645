#include "views/event_batch.h"

#include <stdexcept>

namespace sluice::views {

void event_batch::add(const log::record& r) {
  if (r.type.size() > 255 || r.command_id.size() > 255 || r.aggregate_id.size() > 65535 ||
      bytes_.size() + r.type.size() + r.aggregate_id.size() + r.command_id.size() + r.data.size() > UINT32_MAX)
    throw std::length_error("event too large for an event batch");
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
