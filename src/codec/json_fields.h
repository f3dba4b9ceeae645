// Decoding a payload's fields from untrusted JSON (a simdjson DOM object),
// with the bounds its `inspect` declares. Include only where payloads are
// decoded: it pulls in simdjson.
#pragma once

#include "base/closest.h"
#include "codec/fields.h"
#include "codec/money.h"

#include <fmt/format.h>
#include <simdjson.h>

#include <array>
#include <string>
#include <utility>

namespace sluice::codec {

/// Inspector that fills fields from `object`. Unknown and repeated members
/// are refused (SPEC §2: a misspelt optional field must not pass as absent),
/// null stands for absent. On the first bad
/// field it stops and error() names the field and says what was expected.
/// Strings' bounds are byte lengths.
class json_decoder {
 public:
  json_decoder(simdjson::dom::object object, std::string_view prefix) : object_(object), prefix_(prefix) {}

  template <class... Ts>
  bool operator()(field_ref<Ts>... fs) {
    return decode(std::index_sequence_for<Ts...>{}, fs...);
  }

  const std::string& error() const { return error_; }

 private:
  template <class T>
  bool fail(const field_ref<T>& f, std::string_view what) {
    error_ = fmt::format("{}{} {}", prefix_, f.name, what);
    return false;
  }

  // One walk over the members finds every field (cheaper than a lookup
  // per field); a field given twice is refused rather than guessed.
  bool decode(std::index_sequence<>) { // a payload without fields: `{}` only
    for (auto member : object_) {
      error_ = fmt::format("unknown field '{}{}'; this payload has no fields", prefix_,
                           std::string_view(member.key).substr(0, 128));
      return false;
    }
    return true;
  }

  template <size_t... Is, class... Ts>
  bool decode(std::index_sequence<Is...>, field_ref<Ts>&... fs) {
    simdjson::dom::element found[sizeof...(Ts) + 1];
    bool seen[sizeof...(Ts) + 1] = {};
    for (auto [key, value] : object_) {
      bool handled = false, repeated = false;
      ((!handled && key == fs.name ? (handled = true, repeated = seen[Is], seen[Is] = true, found[Is] = value, 0) : 0),
       ...);
      if (repeated) {
        error_ = fmt::format("{}{} appears more than once", prefix_, std::string_view(key));
        return false;
      }
      if (!handled) {
        std::array<std::string_view, sizeof...(Ts)> names{fs.name...};
        error_ = fmt::format("unknown field '{}{}'{}; {}", prefix_, std::string_view(key).substr(0, 128),
                             did_you_mean(key, names), fmt::format("this payload has {}", join_names(names)));
        return false;
      }
    }
    return ((seen[Is] && found[Is].is_null() && !fs.null_absent
                 ? fail(fs, "must not be null")
                 : get(fs, found[Is], seen[Is] && !found[Is].is_null())) &&
            ...);
  }

  bool get(field_ref<std::string>& f, simdjson::dom::element e, bool present) {
    if (!present)
      return fail(f, "is required");
    std::string_view s;
    if (e.get_string().get(s) != simdjson::SUCCESS)
      return fail(f, "must be a string");
    if (static_cast<int64_t>(s.size()) < f.min || static_cast<int64_t>(s.size()) > f.max)
      return fail(f, fmt::format("must be {} to {} bytes long", f.min, f.max));
    f.value.assign(s);
    return true;
  }

  bool get(field_ref<std::optional<std::string>>& f, simdjson::dom::element e, bool present) {
    if (!present) {
      f.value.reset();
      return true;
    }
    std::string_view s;
    if (e.get_string().get(s) != simdjson::SUCCESS)
      return fail(f, "must be a string");
    if (static_cast<int64_t>(s.size()) < f.min || static_cast<int64_t>(s.size()) > f.max)
      return fail(f, fmt::format("must be {} to {} bytes long", f.min, f.max));
    f.value.emplace(s);
    return true;
  }

  bool get(field_ref<int64_t>& f, simdjson::dom::element e, bool present) {
    if (!present)
      return fail(f, "is required");
    auto range = [&] { return fmt::format("must be an integer from {} to {}", f.min, f.max); };
    int64_t v;
    if (!e.is_int64() || e.get_int64().get(v) != simdjson::SUCCESS)
      return fail(f, range());
    if (v < f.min || v > f.max)
      return fail(f, range());
    f.value = v;
    return true;
  }

  bool get(field_ref<money>& f, simdjson::dom::element e, bool present) {
    if (!present)
      return fail(f, "is required");
    std::optional<int64_t> cents;
    if (e.is_int64()) {
      int64_t units = e.get_int64().value_unsafe();
      if (units >= -k_max_money_cents / 100 && units <= k_max_money_cents / 100)
        cents = units * 100;
    } else if (e.is_double()) {
      cents = money_from_double(e.get_double().value_unsafe());
    } else if (!e.is_number()) {
      return fail(f, "must be a number");
    }
    if (!cents)
      return fail(f, "must be an amount with at most 2 fraction digits and at most 9999999999999.99 in magnitude");
    if (*cents < f.min || *cents > f.max) {
      std::string lo, hi;
      append_money(lo, f.min);
      append_money(hi, f.max);
      return fail(f, fmt::format("must be from {} to {}", lo, hi));
    }
    f.value.cents = *cents;
    return true;
  }

  bool get(field_ref<bool>& f, simdjson::dom::element e, bool present) {
    if (!present)
      return fail(f, "is required");
    bool v;
    if (e.get_bool().get(v) != simdjson::SUCCESS)
      return fail(f, "must be true or false");
    f.value = v;
    return true;
  }

  simdjson::dom::object object_;
  std::string_view prefix_;
  std::string error_;
};

} // namespace sluice::codec
