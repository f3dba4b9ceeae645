// Field lists for aggregate state (snapshots, SPEC §9): the types of
// fields.h plus unsigned integers, enums and vectors of structs that have
// an inspect() of their own, in the binary form of binary.h (a vector is its
// length, then its elements). The fingerprint hashes every field's name and
// kind, nested ones included, so changing a state struct changes it and old
// snapshots are refused rather than misread.
#pragma once

#include "base/checksum.h"
#include "codec/fields.h"

#include <string>
#include <type_traits>
#include <vector>

namespace sluice::codec {

/// Inspector that appends the binary form of a state: the field kinds of
/// binary_encoder, and these.
class state_encoder : public binary_encoder {
 public:
  using binary_encoder::binary_encoder;

  template <class... Ts>
  bool operator()(field_ref<Ts>... fs) {
    (put(fs.value), ...);
    return true;
  }

 private:
  using binary_encoder::put;
  template <class T>
  requires(std::is_unsigned_v<T> && !std::is_same_v<T, bool>) void put(T v) { w_.uint(v); }
  template <class E>
  requires std::is_enum_v<E>
  void put(E v) { w_.uint(static_cast<uint64_t>(v)); }
  template <class T>
  void put(const std::vector<T>& v) {
    w_.uint(v.size());
    for (auto& x : v)
      inspect(*this, const_cast<T&>(x)); // the encoder only reads
  }
};

/// Inspector that reads a state back. Checks that every byte is consumed
/// only at the top level (decode_state()), as nested lists share the reader.
class state_decoder : public binary_decoder {
 public:
  using binary_decoder::binary_decoder;

  template <class... Ts>
  bool operator()(field_ref<Ts>... fs) {
    (get(fs.value), ...);
    return r_.ok();
  }

  bool done() const { return r_.ok() && r_.at_end(); }

 private:
  using binary_decoder::get;
  template <class T>
  requires(std::is_unsigned_v<T> && !std::is_same_v<T, bool>) void get(T& v) {
    uint64_t u = r_.uint();
    v = static_cast<T>(u);
    if (v != u)
      r_.fail();
  }
  template <class E>
  requires std::is_enum_v<E>
  void get(E& v) { v = static_cast<E>(r_.uint()); }
  template <class T>
  void get(std::vector<T>& v) {
    uint64_t n = r_.uint();
    v.clear();
    // Each element takes at least a byte: a corrupt length cannot make us allocate more than the input.
    if (!r_.ok() || n > r_.remaining()) {
      r_.fail();
      return;
    }
    v.resize(n);
    for (auto& x : v)
      if (!inspect(*this, x))
        return;
  }
};

/// Inspector that hashes the field list: names, kinds and nesting.
class state_fingerprinter {
 public:
  template <class... Ts>
  bool operator()(field_ref<Ts>... fs) {
    mix("{");
    (put(fs.name, fs.value), ...);
    mix("}");
    return true;
  }

  uint64_t value() const { return h_ == 0 ? 1 : h_; } // 0 means "no field list"

 private:
  void mix(std::string_view s) {
    std::string buf = std::to_string(h_);
    buf += s;
    h_ = checksum64(buf.data(), buf.size());
  }
  void put(std::string_view k, const std::string&) { mix(std::string(k) + ":string"); }
  void put(std::string_view k, int64_t) { mix(std::string(k) + ":int"); }
  void put(std::string_view k, money) { mix(std::string(k) + ":money"); }
  void put(std::string_view k, bool) { mix(std::string(k) + ":bool"); }
  void put(std::string_view k, const std::optional<std::string>&) { mix(std::string(k) + ":optional<string>"); }
  template <class T>
  requires(std::is_unsigned_v<T> && !std::is_same_v<T, bool>) void put(std::string_view k, T) {
    mix(std::string(k) + ":uint");
  }
  template <class E>
  requires std::is_enum_v<E>
  void put(std::string_view k, E) { mix(std::string(k) + ":enum"); }
  template <class T>
  void put(std::string_view k, const std::vector<T>&) {
    mix(std::string(k) + ":list");
    T sample{};
    inspect(*this, sample);
  }

  uint64_t h_ = 0;
};

template <class T>
concept has_field_list = requires(state_fingerprinter& f, T& x) {
  { inspect(f, x) } -> std::same_as<bool>;
};

template <class T>
void encode_state(const T& x, std::string& out) {
  state_encoder f(out);
  inspect(f, const_cast<T&>(x)); // the encoder only reads
}

/// False unless `in` is exactly one `T`.
template <class T>
bool decode_state(std::string_view in, T& x) {
  state_decoder f(in);
  return inspect(f, x) && f.done();
}

template <class T>
uint64_t state_fingerprint() {
  state_fingerprinter f;
  T sample{};
  inspect(f, sample);
  return f.value();
}

} // namespace sluice::codec
