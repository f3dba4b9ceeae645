// Field lists: one `inspect` function per payload type drives its binary
// encoding, binary decoding, JSON rendering and JSON decoding (json_fields.h).
//
//   struct add_item { std::string product; int64_t qty; money price; };
//   template <class F> bool inspect(F& f, add_item& x) {
//     return f(field("product", x.product), field("qty", x.qty, 1, 1'000'000),
//              field("price", x.price, 0, k_max_money_cents));
//   }
//
// Supported value types: std::string, int64_t, money, bool,
// std::optional<std::string>. Bounds apply to int64_t and money (cents);
// they are checked when decoding untrusted JSON.
#pragma once

#include "codec/binary.h"
#include "codec/json_writer.h"
#include "codec/money.h"

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>

namespace sluice::codec {

template <class T>
struct field_ref {
  std::string_view name;
  T& value;
  int64_t min = std::numeric_limits<int64_t>::min();
  int64_t max = std::numeric_limits<int64_t>::max();
  bool null_absent = true; ///< JSON null stands for absent; else null is refused

  /// An optional field that may be left out but not given as null.
  field_ref not_null() const {
    auto f = *this;
    f.null_absent = false;
    return f;
  }
};

template <class T>
field_ref<T> field(std::string_view name, T& value) {
  return {name, value};
}

template <class T>
field_ref<T> field(std::string_view name, T& value, int64_t min, int64_t max) {
  return {name, value, min, max};
}

/// Inspector that appends the binary form (binary.h).
class binary_encoder {
 public:
  explicit binary_encoder(std::string& out) : w_(out) {}

  template <class... Ts>
  bool operator()(field_ref<Ts>... fs) {
    (put(fs.value), ...);
    return true;
  }

 protected: // state_fields.h adds kinds of its own
  void put(const std::string& v) { w_.string(v); }
  void put(int64_t v) { w_.sint(v); }
  void put(money v) { w_.sint(v.cents); }
  void put(bool v) { w_.boolean(v); }
  void put(const std::optional<std::string>& v) {
    w_.boolean(v.has_value());
    if (v)
      w_.string(*v);
  }

  binary_writer w_;
};

/// Inspector that reads the binary form back. Fails on truncated or
/// trailing bytes; does not check bounds (the data was checked on input).
class binary_decoder {
 public:
  explicit binary_decoder(std::string_view in) : r_(in) {}

  template <class... Ts>
  bool operator()(field_ref<Ts>... fs) {
    (get(fs.value), ...);
    return r_.ok() && r_.at_end();
  }

 protected: // state_fields.h adds kinds of its own
  void get(std::string& v) { v.assign(r_.string()); }
  void get(int64_t& v) { v = r_.sint(); }
  void get(money& v) { v.cents = r_.sint(); }
  void get(bool& v) { v = r_.boolean(); }
  void get(std::optional<std::string>& v) {
    if (r_.boolean())
      v.emplace(r_.string());
    else
      v.reset();
  }

  binary_reader r_;
};

/// Inspector that writes the fields as members of the JSON object the
/// caller has opened. Absent optionals are left out.
class json_encoder {
 public:
  explicit json_encoder(json_writer& w) : w_(w) {}

  template <class... Ts>
  bool operator()(field_ref<Ts>... fs) {
    (put(fs.name, fs.value), ...);
    return true;
  }

 private:
  void put(std::string_view k, const std::string& v) { w_.key(k).string(v); }
  void put(std::string_view k, int64_t v) { w_.key(k).integer(v); }
  void put(std::string_view k, money v) { w_.key(k).money(v.cents); }
  void put(std::string_view k, bool v) { w_.key(k).boolean(v); }
  void put(std::string_view k, const std::optional<std::string>& v) {
    if (v)
      w_.key(k).string(*v);
  }

  json_writer& w_;
};

/// Binary form of `x`, appended to `out`.
template <class T>
void encode_binary(const T& x, std::string& out) {
  binary_encoder f(out);
  inspect(f, const_cast<T&>(x)); // the encoder only reads
}

/// Decodes the binary form into `x`; false if `in` is not exactly one `T`.
template <class T>
bool decode_binary(std::string_view in, T& x) {
  binary_decoder f(in);
  return inspect(f, x);
}

/// Writes `x` as a JSON object.
template <class T>
void encode_json(const T& x, json_writer& w) {
  w.begin_object();
  json_encoder f(w);
  inspect(f, const_cast<T&>(x));
  w.end_object();
}

} // namespace sluice::codec
