#include "domain/command_decoder.h"

#include "base/closest.h"
#include "domain/number_range.h"

#include <fmt/format.h>
#include <simdjson.h>

namespace sluice::domain {

static_assert(k_json_padding >= simdjson::SIMDJSON_PADDING);

namespace {

constexpr size_t k_max_aggregate_id = 256;
constexpr size_t k_max_command_id = 128;
constexpr size_t k_max_correlation_id = 128;

// SPEC §2: every member an envelope may have. Anything else is refused, so
// that a misspelt `expected_version` cannot switch its check off.
constexpr std::string_view k_envelope_fields[] = {"type",           "aggregate_id", "command_id", "expected_version",
                                                  "correlation_id", "payload"};

std::unexpected<error> fail(errc code, std::string message) { return std::unexpected(error{code, std::move(message)}); }

std::unexpected<error> invalid(std::string message) { return fail(errc::invalid_command, std::move(message)); }

// A text simdjson refused; out-of-range numbers are well-formed JSON of the
// right type: invalid_command naming the field (SPEC §3), not bad_request.
std::unexpected<error> parse_failure(simdjson::error_code e, std::string_view json);

std::string parse_error_text(simdjson::error_code e) {
  switch (e) {
    case simdjson::UTF8_ERROR: return "body is not valid UTF-8";
    case simdjson::DEPTH_ERROR: return "JSON is nested too deeply";
    case simdjson::EMPTY: return "body is empty";
    case simdjson::CAPACITY: return "JSON document is too large";
    default: return fmt::format("malformed JSON: {}", simdjson::error_message(e));
  }
}

std::unexpected<error> parse_failure(simdjson::error_code e, std::string_view json) {
  if (e == simdjson::NUMBER_ERROR || e == simdjson::NUMBER_OUT_OF_RANGE)
    if (auto path = out_of_range_number(json))
      return invalid(fmt::format("{} is a number out of range", *path));
  return fail(errc::bad_request, parse_error_text(e));
}

// The members of an envelope, found in one pass; `has_x` says x was there.
struct envelope {
  simdjson::dom::element type_v, id_v, command_id_v, version_v, correlation_v, payload_v;
  bool has_type = false, has_id = false, has_command_id = false, has_version = false, has_correlation = false,
       has_payload = false;
};

// One pass over the members: unknown ones and repeats are refused.
std::expected<void, error> read_envelope(simdjson::dom::object object, envelope& e) {
  for (auto [key, value] : object) {
    auto take = [&](bool& seen, simdjson::dom::element& slot) {
      if (seen)
        return false;
      seen = true;
      slot = value;
      return true;
    };
    bool fresh = true;
    if (key == "type")
      fresh = take(e.has_type, e.type_v);
    else if (key == "aggregate_id")
      fresh = take(e.has_id, e.id_v);
    else if (key == "command_id")
      fresh = take(e.has_command_id, e.command_id_v);
    else if (key == "expected_version")
      fresh = take(e.has_version, e.version_v);
    else if (key == "payload")
      fresh = take(e.has_payload, e.payload_v);
    else if (key == "correlation_id")
      fresh = take(e.has_correlation, e.correlation_v);
    else
      return invalid(fmt::format("unknown field '{}'{}; a command has {}", std::string_view(key).substr(0, 128),
                                 did_you_mean(key, k_envelope_fields), join_names(k_envelope_fields)));
    if (!fresh)
      return invalid(fmt::format("field '{}' appears more than once", std::string_view(key)));
  }
  return {};
}

std::expected<void, error> decode_aggregate_id(const envelope& e, command& cmd) {
  std::string_view aggregate_id;
  if (!e.has_id)
    return invalid("aggregate_id is required");
  if (e.id_v.get_string().get(aggregate_id))
    return invalid("aggregate_id must be a string");
  if (aggregate_id.empty() || aggregate_id.size() > k_max_aggregate_id)
    return invalid(fmt::format("aggregate_id must be 1 to {} bytes long", k_max_aggregate_id));
  if (!free_of_control_chars(aggregate_id))
    return invalid("aggregate_id must not contain control characters");
  cmd.aggregate_id.assign(aggregate_id);
  return {};
}

std::expected<void, error> decode_command_id(const envelope& e, command& cmd) {
  if (e.has_command_id && !e.command_id_v.is_null()) {
    std::string_view command_id;
    if (e.command_id_v.get_string().get(command_id))
      return invalid("command_id must be a string");
    if (command_id.empty() || command_id.size() > k_max_command_id)
      return invalid(fmt::format("command_id must be 1 to {} bytes long", k_max_command_id));
    cmd.command_id.assign(command_id);
  }
  return {};
}

std::expected<void, error> decode_expected_version(const envelope& e, command& cmd) {
  if (e.has_version && !e.version_v.is_null()) {
    uint64_t v;
    if (!e.version_v.is_uint64() || e.version_v.get_uint64().get(v) || v > static_cast<uint64_t>(INT64_MAX))
      return invalid("expected_version must be an integer from 0 to 9223372036854775807");
    cmd.expected_version = v;
  }
  return {};
}

// Checked only: the command does not carry it.
std::expected<void, error> check_correlation_id(const envelope& e) {
  if (e.has_correlation && !e.correlation_v.is_null()) {
    std::string_view correlation_id;
    if (e.correlation_v.get_string().get(correlation_id))
      return invalid("correlation_id must be a string");
    if (correlation_id.empty() || correlation_id.size() > k_max_correlation_id)
      return invalid(fmt::format("correlation_id must be 1 to {} bytes long", k_max_correlation_id));
  }
  return {};
}

std::expected<void, error> decode_payload(const envelope& e, command& cmd) {
  simdjson::dom::object payload;
  if (!e.has_payload)
    return invalid("payload is required");
  if (e.payload_v.get_object().get(payload))
    return invalid("payload must be an object");
  if (auto r = cmd.type->decode_payload(cmd.kind, payload, cmd.payload); !r)
    return invalid(std::move(r.error()));
  return {};
}

} // namespace

bool free_of_control_chars(std::string_view s) {
  for (size_t i = 0; i < s.size(); ++i) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c < 0x7F) [[likely]]
      continue;
    if (c < 0x20 || c == 0x7F)
      return false;
    // C1 controls U+0080..U+009F are encoded C2 80..C2 9F.
    if (c == 0xC2 && i + 1 < s.size() && static_cast<unsigned char>(s[i + 1]) < 0xA0)
      return false;
  }
  return true;
}

struct command_decoder::impl {
  explicit impl(const registry& r) : types(r) {
    for (auto* t : r.types())
      for (auto name : t->command_names())
        command_names.push_back(name);
  }

  std::expected<command, error> decode(simdjson::dom::element root);
  std::expected<void, error> decode_type(const envelope& e, command& cmd) const;

  // "unknown command type 'order.crate' (did you mean 'order.create'?); known types: …"
  std::string unknown_type_message(std::string_view name) const {
    return fmt::format("unknown command type '{}'{}; known types: {}", name.substr(0, 128),
                       did_you_mean(name.substr(0, 128), command_names), join_names(command_names));
  }

  const registry& types;
  std::vector<std::string_view> command_names;
  simdjson::dom::parser parser;
};

command_decoder::command_decoder(const registry& types) : impl_(std::make_unique<impl>(types)) {}

command_decoder::~command_decoder() = default;

std::expected<command, error> command_decoder::decode(std::string_view json) {
  simdjson::dom::element root;
  // realloc_if_needed = true: simdjson copies into a padded buffer.
  if (auto e = impl_->parser.parse(json.data(), json.size(), true).get(root))
    return parse_failure(e, json);
  return impl_->decode(root);
}

std::expected<command, error> command_decoder::decode(const char* data, size_t size, size_t capacity) {
  if (capacity < size + k_json_padding)
    return decode(std::string_view(data, size));
  simdjson::dom::element root;
  if (auto e = impl_->parser.parse(data, size, false).get(root))
    return parse_failure(e, std::string_view(data, size));
  return impl_->decode(root);
}

std::expected<command, error> command_decoder::impl::decode(simdjson::dom::element root) {
  simdjson::dom::object object;
  if (root.get_object().get(object))
    return fail(errc::bad_request, "a command must be a JSON object");
  envelope e;
  if (auto r = read_envelope(object, e); !r)
    return std::unexpected(std::move(r.error()));

  command cmd;
  if (auto r = decode_type(e, cmd); !r)
    return std::unexpected(std::move(r.error()));
  if (auto r = decode_aggregate_id(e, cmd); !r)
    return std::unexpected(std::move(r.error()));
  if (auto r = decode_command_id(e, cmd); !r)
    return std::unexpected(std::move(r.error()));
  if (auto r = decode_expected_version(e, cmd); !r)
    return std::unexpected(std::move(r.error()));
  if (auto r = check_correlation_id(e); !r)
    return std::unexpected(std::move(r.error()));
  if (auto r = decode_payload(e, cmd); !r)
    return std::unexpected(std::move(r.error()));
  return cmd;
}

std::expected<void, error> command_decoder::impl::decode_type(const envelope& e, command& cmd) const {
  std::string_view type_name;
  if (!e.has_type)
    return invalid("type is required");
  if (e.type_v.get_string().get(type_name))
    return invalid("type must be a string");
  auto ref = types.find_command(type_name);
  if (!ref)
    return fail(errc::unknown_command, unknown_type_message(type_name));
  cmd.type = ref->type;
  cmd.kind = ref->kind;
  return {};
}

} // namespace sluice::domain
