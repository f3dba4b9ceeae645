// Commands of any domain for sluice-load, from a template file, so a server
// built on sluice for another domain can be loaded and verified as the
// built-in one is (`sluice-load ingest --template FILE`):
//
//   # a comment
//   create {"type":"stock.register","aggregate_id":"WH-{run}-{key}","payload":{"warehouse":"W{key}","reorder_level":5}}
//   send   {"type":"stock.receive","aggregate_id":"WH-{run}-{key}","command_id":"{id}","payload":{"qty":1}}
//
// `create` lines run once per aggregate before the clock starts, in order;
// each command sent is one of the `send` lines, picked at random. The
// placeholders: {run} the run id, {key} the aggregate's number (0 …
// --aggregates-1, skewed by --zipf), {id} a command id unique in the run
// (what --verify follows into the log), {seq} the command's number on its
// connection, {conn} the connection's.
#pragma once

#include <cstdint>
#include <expected>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace sluice::load {

/// The values one rendering fills in.
struct template_values {
  std::string_view run;
  uint64_t key = 0;
  uint32_t conn = 0;
  uint64_t seq = 0;
};

/// Immutable once parsed; safe to share between threads.
class command_template {
 public:
  /// Parses `text`; the error names the line and what is wrong with it.
  static std::expected<command_template, std::string> parse(std::string_view text);
  static std::expected<command_template, std::string> load(const std::filesystem::path& file);

  size_t creates() const { return create_.size(); }
  size_t sends() const { return send_.size(); }
  /// True if every send line carries {id}: --verify can find each command.
  bool traceable() const { return traceable_; }

  void append_create(std::string& out, size_t i, const template_values& v) const { append(out, create_[i], v); }
  void append_send(std::string& out, size_t i, const template_values& v) const { append(out, send_[i], v); }

 private:
  enum class slot : uint8_t { text, run, key, id, seq, conn };
  struct piece {
    slot what = slot::text;
    std::string text;
  };
  using line = std::vector<piece>;

  static std::expected<line, std::string> compile(std::string_view json);
  static void append(std::string& out, const line& l, const template_values& v);

  std::vector<line> create_, send_;
  bool traceable_ = true;
};

} // namespace sluice::load
