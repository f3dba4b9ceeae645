#include "domain/number_range.h"

#include <simdjson.h>

#include <optional>

namespace sluice::domain {

namespace {

namespace od = simdjson::ondemand;

constexpr int k_max_depth = 64;

// Walks all of `v`; the first number out of range sets `found` to its
// path. True when it found one, false when `v` holds none or the text
// cannot be walked (`broken`): then the text is malformed after all.
bool find(od::value v, std::string& path, int depth, bool& broken, std::optional<std::string>& found) {
  od::json_type type;
  if (depth > k_max_depth || v.type().get(type)) {
    broken = true;
    return false;
  }
  // Walks one member or element under its name; false once the text breaks.
  auto descend = [&](std::string_view part, od::value child) {
    auto was = path.size();
    if (!path.empty())
      path.push_back('.');
    path.append(part);
    find(child, path, depth + 1, broken, found);
    path.resize(was);
    return !broken;
  };
  switch (type) {
    case od::json_type::object: {
      od::object o;
      broken = v.get_object().get(o) != simdjson::SUCCESS;
      if (broken)
        return false;
      for (auto field : o) {
        std::string_view key;
        od::value child;
        broken = field.unescaped_key().get(key) || field.value().get(child);
        if (broken || !descend(key, child))
          return false;
      }
      return found.has_value();
    }
    case od::json_type::array: {
      od::array a;
      broken = v.get_array().get(a) != simdjson::SUCCESS;
      if (broken)
        return false;
      size_t i = 0;
      for (auto item : a) {
        od::value child;
        broken = item.get(child) != simdjson::SUCCESS;
        if (broken || !descend(std::to_string(i++), child))
          return false;
      }
      return found.has_value();
    }
    case od::json_type::number: {
      od::number n;
      if (v.get_number().get(n) != simdjson::SUCCESS && !found)
        found = path;
      return found.has_value();
    }
    default: return false;
  }
}

} // namespace

std::optional<std::string> out_of_range_number(std::string_view json) {
  od::parser parser;
  simdjson::padded_string text(json);
  od::document doc;
  if (parser.iterate(text).get(doc))
    return std::nullopt;
  od::value root;
  bool broken = false;
  std::string path;
  // A scalar document (a bare 1e400) cannot be taken as a value.
  if (doc.get_value().get(root)) {
    od::number n;
    if (doc.get_number().get(n) != simdjson::SUCCESS)
      return std::string("the value");
    return std::nullopt;
  }
  std::optional<std::string> found;
  find(root, path, 0, broken, found);
  if (broken)
    return std::nullopt;
  return found;
}

} // namespace sluice::domain
