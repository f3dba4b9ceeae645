#include "app/flag_table.h"

#include "base/units.h"

#include <fmt/format.h>

#include <cctype>

namespace sluice::app {

namespace {

std::vector<std::string> split_choices(std::string_view s) {
  std::vector<std::string> out;
  for (size_t at = 0; at <= s.size();) {
    auto bar = s.find('|', at);
    if (bar == std::string_view::npos)
      bar = s.size();
    out.emplace_back(s.substr(at, bar - at));
    at = bar + 1;
  }
  return out;
}

// An unsigned integer within the row's bounds: the error names them.
CLI::Validator number_check(const flag& f) {
  return CLI::Validator(
      [lo = f.lo, hi = f.hi](std::string& v) -> std::string {
        uint64_t n = 0;
        if (CLI::detail::lexical_cast(v, n) && n >= lo && n <= hi)
          return {};
        return fmt::format("'{}' is not an integer from {} to {}", v, lo, hi);
      },
      fmt::format("{}..{}", f.lo, f.hi));
}

// A size with or without a unit, rewritten to its bytes for CLI11 to store.
CLI::Validator size_check(const flag& f) {
  return CLI::Validator(
      [lo = f.lo, hi = f.hi](std::string& v) -> std::string {
        auto n = parse_size(v);
        if (!n)
          return n.error();
        if (*n < lo || *n > hi)
          return fmt::format("'{}' is not a size from {} to {} bytes", v, lo, hi);
        v = std::to_string(*n);
        return {};
      },
      "SIZE");
}

CLI::Validator duration_check() {
  return CLI::Validator(
      [](std::string& v) {
        auto d = parse_duration(v);
        return d ? std::string() : d.error();
      },
      "DURATION");
}

// The default, written into the target before parsing: what the program
// runs with when neither flag, variable nor file sets it.
void write_default(const flag& f) {
  if (f.fallback.empty())
    return;
  std::string v(f.fallback);
  if (f.type == flag::kind::size)
    v = std::to_string(*parse_size(v));
  std::visit(
      [&]<class T>(T* target) {
        if constexpr (std::is_same_v<T, std::string>)
          *target = v;
        else if constexpr (std::is_same_v<T, bool>)
          *target = v == "true";
        else if constexpr (std::is_same_v<T, std::vector<std::string>>)
          *target = {v};
        else
          CLI::detail::lexical_cast(v, *target);
      },
      f.into);
}

CLI::Option* add_one(CLI::App* cmd, const flag& f) {
  std::string name = f.type == flag::kind::positional ? std::string(f.name) : "--" + std::string(f.name);
  std::string help(f.help);
  CLI::Option* opt = nullptr;
  if (f.type == flag::kind::toggle)
    opt = cmd->add_flag(name, *std::get<bool*>(f.into), help);
  else
    opt = std::visit([&](auto* target) { return cmd->add_option(name, *target, help); }, f.into);
  switch (f.type) {
    case flag::kind::choice: opt->check(CLI::IsMember(split_choices(f.choices))); break;
    case flag::kind::number: opt->check(number_check(f)); break;
    case flag::kind::size: opt->transform(size_check(f)); break; // rewrites the value to bytes
    case flag::kind::duration: opt->check(duration_check()); break;
    case flag::kind::file: opt->check(CLI::ExistingFile); break;
    default: break;
  }
  if (!f.fallback.empty())
    opt->default_str(std::string(f.fallback));
  if (!f.group.empty())
    opt->group(std::string(f.group));
  if (f.required)
    opt->required();
  if (auto env = f.env_name(); !env.empty())
    opt->envname(env);
  return opt;
}

std::string accepts(const flag& f) {
  switch (f.type) {
    case flag::kind::text: return "text";
    case flag::kind::choice: {
      std::string out;
      for (auto& c : split_choices(f.choices))
        out += (out.empty() ? "`" : ", `") + c + "`";
      return out;
    }
    case flag::kind::number: return fmt::format("{} to {}", f.lo, f.hi);
    case flag::kind::size: return fmt::format("size, {} to {} bytes", f.lo, f.hi);
    case flag::kind::duration: return "duration";
    case flag::kind::toggle: return "no value";
    case flag::kind::list: return "text, repeatable";
    case flag::kind::file: return "an existing file";
    case flag::kind::positional: return f.required ? "required" : "optional";
  }
  return {};
}

std::string cell(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '|' || c == '<')
      out += '\\'; // a table's cell boundary; an HTML tag to Markdown
    out += c;
  }
  return out;
}

} // namespace

std::string flag::env_name() const {
  if (type == kind::positional)
    return {};
  if (!env.empty())
    return std::string(env);
  std::string out = "SLUICE_";
  for (char c : name)
    out.push_back(c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
  return out;
}

std::vector<CLI::Option*> add_flags(CLI::App* cmd, std::span<const flag> rows) {
  std::vector<CLI::Option*> out;
  for (auto& f : rows) {
    write_default(f);
    out.push_back(add_one(cmd, f));
  }
  return out;
}

std::string flags_markdown(std::string_view command, std::span<const flag> rows) {
  std::string out =
      fmt::format("`{}`\n\n| flag | default | accepts | environment | meaning |\n|---|---|---|---|---|\n", command);
  for (auto& f : rows) {
    std::string name;
    if (f.type == flag::kind::positional) {
      for (char c : f.name)
        name.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
    } else {
      name = "--" + std::string(f.name);
    }
    auto env = f.env_name();
    out += fmt::format("| `{}` | {} | {} | {} | {} |\n", name, f.fallback.empty() ? "" : "`" + cell(f.fallback) + "`",
                       accepts(f), env.empty() ? "" : "`" + env + "`", cell(f.help));
  }
  return out;
}

} // namespace sluice::app
