#include "log/write_batch.h"

#include "base/bytes.h"
#include "log/format.h"
#include "log/record_parser.h"

namespace sluice::log {

size_t write_batch::encoded_size(const record& r) {
  return format::k_record_header_size + r.type.size() + r.aggregate_id.size() + r.command_id.size() + r.data.size();
}

bool write_batch::add(const record& r) {
  using namespace format;
  size_t body = r.type.size() + r.aggregate_id.size() + r.command_id.size() + r.data.size();
  if (r.type.size() > k_max_type || r.command_id.size() > k_max_command_id ||
      r.aggregate_id.size() > k_max_aggregate_id || body > k_max_body)
    return false;

  size_t at = buf_.size();
  buf_.resize(at + k_record_header_size);
  char* h = buf_.data() + at;
  store_u32(h + k_off_checksum, 0); // stamped by the writer with the position
  store_u32(h + k_off_length, static_cast<uint32_t>(body));
  h[k_off_magic] = static_cast<char>(k_record_magic);
  h[k_off_flags] = 0;
  h[k_off_type_len] = static_cast<char>(r.type.size());
  h[k_off_command_id_len] = static_cast<char>(r.command_id.size());
  store_u64(h + k_off_position, 0);
  store_u64(h + k_off_version, r.version);
  store_u64(h + k_off_time, static_cast<uint64_t>(r.time_us));
  store_u16(h + k_off_aggregate_id_len, static_cast<uint16_t>(r.aggregate_id.size()));
  store_u16(h + k_off_schema, r.schema);
  buf_.append(r.type);
  buf_.append(r.aggregate_id);
  buf_.append(r.command_id);
  buf_.append(r.data);
  ++count_;
  return true;
}

void write_batch::each_aggregate_id(const std::function<void(std::string_view)>& f) const {
  using namespace format;
  for (size_t o = 0; o < buf_.size();) {
    const char* h = buf_.data() + o;
    size_t type_len = static_cast<uint8_t>(h[k_off_type_len]);
    f({h + k_record_header_size + type_len, load_u16(h + k_off_aggregate_id_len)});
    o += k_record_header_size + load_u32(h + k_off_length);
  }
}

std::string_view write_batch::stamp(uint64_t first) {
  char* last = nullptr;
  for (size_t o = 0; o < buf_.size();) {
    last = buf_.data() + o;
    stamp_record(last, first++, false);
    o += format::k_record_header_size + load_u32(last + format::k_off_length);
  }
  if (last)
    stamp_record(last, first - 1, true);
  return buf_;
}

} // namespace sluice::log
