#include "command_template.h"

#include <fmt/format.h>
#include <simdjson.h>

#include <fstream>
#include <sstream>

namespace sluice::load {

std::expected<command_template::line, std::string> command_template::compile(std::string_view json) {
  line out;
  while (!json.empty()) {
    auto open = json.find('{');
    auto close = open == std::string_view::npos ? open : json.find('}', open);
    // A placeholder is {name} with a lower-case name; other braces are JSON.
    std::string_view name = close == std::string_view::npos ? "" : json.substr(open + 1, close - open - 1);
    bool is_name = !name.empty() && name.find_first_not_of("abcdefghijklmnopqrstuvwxyz") == std::string_view::npos;
    if (!is_name) {
      size_t upto = open == std::string_view::npos ? json.size() : open + 1;
      if (out.empty() || out.back().what != slot::text)
        out.push_back({slot::text, {}});
      out.back().text.append(json.substr(0, upto));
      json.remove_prefix(upto);
      continue;
    }
    if (open > 0) {
      if (out.empty() || out.back().what != slot::text)
        out.push_back({slot::text, {}});
      out.back().text.append(json.substr(0, open));
    }
    slot s;
    if (name == "run")
      s = slot::run;
    else if (name == "key")
      s = slot::key;
    else if (name == "id")
      s = slot::id;
    else if (name == "seq")
      s = slot::seq;
    else if (name == "conn")
      s = slot::conn;
    else
      return std::unexpected(fmt::format("unknown placeholder {{{}}} (known: run, key, id, seq, conn)", name));
    out.push_back({s, {}});
    json.remove_prefix(close + 1);
  }
  return out;
}

void command_template::append(std::string& out, const line& l, const template_values& v) {
  auto o = std::back_inserter(out);
  for (auto& p : l) {
    switch (p.what) {
      case slot::text: out += p.text; break;
      case slot::run: out += v.run; break;
      case slot::key: fmt::format_to(o, "{}", v.key); break;
      case slot::id: fmt::format_to(o, "{}-{}-{}", v.run, v.conn, v.seq); break;
      case slot::seq: fmt::format_to(o, "{}", v.seq); break;
      case slot::conn: fmt::format_to(o, "{}", v.conn); break;
    }
  }
}

std::expected<command_template, std::string> command_template::parse(std::string_view text) {
  command_template t;
  simdjson::dom::parser parser;
  size_t number = 0;
  while (!text.empty()) {
    auto nl = text.find('\n');
    auto raw = text.substr(0, nl);
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
    ++number;
    auto first = raw.find_first_not_of(" \t\r");
    if (first == std::string_view::npos || raw[first] == '#')
      continue;
    raw.remove_prefix(first);
    raw = raw.substr(0, raw.find_last_not_of(" \t\r") + 1);
    auto space = raw.find_first_of(" \t");
    auto kind = raw.substr(0, space);
    if ((kind != "create" && kind != "send") || space == std::string_view::npos)
      return std::unexpected(fmt::format("line {}: expected `create JSON` or `send JSON`", number));
    auto json = raw.substr(raw.find_first_not_of(" \t", space));
    auto compiled = compile(json);
    if (!compiled)
      return std::unexpected(fmt::format("line {}: {}", number, compiled.error()));
    // Rendered with sample values, a line must be a JSON object.
    std::string sample;
    append(sample, *compiled, {"run", 1, 1, 1});
    simdjson::dom::element doc;
    if (parser.parse(sample).get(doc) || !doc.is_object())
      return std::unexpected(fmt::format("line {}: not a JSON object once filled in: {}", number, sample));
    if (kind == "create") {
      t.create_.push_back(std::move(*compiled));
    } else {
      bool has_id = std::any_of(compiled->begin(), compiled->end(), [](const piece& p) { return p.what == slot::id; });
      t.traceable_ = t.traceable_ && has_id;
      t.send_.push_back(std::move(*compiled));
    }
  }
  if (t.send_.empty())
    return std::unexpected("no `send` line: nothing to send");
  return t;
}

std::expected<command_template, std::string> command_template::load(const std::filesystem::path& file) {
  std::ifstream in(file);
  if (!in)
    return std::unexpected(fmt::format("cannot read {}", file.string()));
  std::stringstream text;
  text << in.rdbuf();
  auto t = parse(text.str());
  if (!t)
    return std::unexpected(fmt::format("{}: {}", file.string(), t.error()));
  return t;
}

} // namespace sluice::load
