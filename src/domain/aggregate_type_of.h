// Turns a plain domain module into an aggregate_type. Include it only in
// the module's .cpp (it pulls in simdjson).
//
// A module is a struct naming its parts:
//
//   struct module {
//     static constexpr std::string_view name = "order";
//     using state = order::state;
//     using commands = type_list<create, add_item, …>;   // each has `name` and inspect()
//     using events = type_list<created, item_added, …>;  // each has `name` and inspect()
//   };
//
// with, found by argument-dependent lookup, one overload per command and event:
//
//   decision decide(const state&, const add_item&, event_sink&);
//   void evolve(state&, const item_added&);
//
// An event whose fields changed (SPEC §12) names its schema version and the
// struct of the version before, and an upcaster from that one is found by
// argument-dependent lookup; the chain may be as long as history is:
//
//   struct item_added_v1 { std::string product; int64_t qty; money price; };  // + inspect()
//   struct item_added {
//     static constexpr std::string_view name = "order.item_added";
//     static constexpr uint16_t schema = 2;
//     using previous = item_added_v1;
//     …
//   };
//   item_added upcast(const item_added_v1&);
//
// A command may have checks across its fields, found by argument-dependent
// lookup and run on the JSON path only (a failure is 400 invalid_command):
//
//   std::optional<std::string> validate(const request&);
//
// and a command with `static constexpr bool internal = true` is refused from
// clients: only a process manager, which builds commands itself, sends it.
//
// A state with an inspect() of its own (codec/state_fields.h: the field
// types plus enums, unsigned integers and vectors of such structs) gets
// snapshots (SPEC §9); one without is rebuilt from the log alone.
#pragma once

#include "codec/fields.h"
#include "codec/json_fields.h"
#include "codec/state_fields.h"
#include "domain/aggregate_type.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <optional>

namespace sluice::domain {

template <class... Ts>
struct type_list {};

namespace detail {

template <class E>
constexpr uint16_t schema_of() {
  if constexpr (requires { E::schema; })
    return E::schema;
  else
    return 1;
}

// Decodes `data`, written at schema `version`, into the current `E` by the
// chain of `previous` structs and their upcasters.
template <class E>
bool decode_at(uint16_t version, std::string_view data, E& out) {
  if (version == schema_of<E>())
    return codec::decode_binary(data, out);
  if constexpr (requires { typename E::previous; }) {
    using prior = typename E::previous;
    static_assert(schema_of<prior>() < schema_of<E>(), "a previous schema must have a lower version");
    if (version > schema_of<prior>())
      return false;
    prior p;
    if (!decode_at(version, data, p))
      return false;
    out = upcast(std::move(p));
    return true;
  } else {
    return false;
  }
}

} // namespace detail

/// Collects the events a decide function emits, in binary form.
class event_sink {
 public:
  explicit event_sink(event_list& out) : out_(out) {}

  template <class Event>
  void emit(const Event& e) {
    auto& ev = out_.emplace_back();
    ev.type = Event::name;
    ev.schema = detail::schema_of<Event>();
    codec::encode_binary(e, ev.data);
  }

 private:
  event_list& out_;
};

namespace detail {

// Free functions so that the module's decide/evolve are found by
// argument-dependent lookup, not hidden by the members of the same name.
template <class State, class Command>
decision call_decide(const State& s, const Command& c, event_sink& out) {
  return decide(s, c, out);
}
template <class State, class Event>
void call_evolve(State& s, const Event& e) {
  evolve(s, e);
}
template <class Command>
auto call_validate(const Command& c) -> decltype(validate(c)) {
  return validate(c);
}

template <class C>
constexpr bool is_internal() {
  if constexpr (requires { C::internal; })
    return C::internal;
  else
    return false;
}

template <class Module, class Commands, class Events>
class aggregate_type_impl;

template <class Module, class... Cs, class... Es>
class aggregate_type_impl<Module, type_list<Cs...>, type_list<Es...>> final : public aggregate_type {
  using state_type = typename Module::state;
  struct box final : aggregate_state {
    state_type value;
  };

  static_assert(sizeof...(Cs) < 65536 && sizeof...(Es) > 0);

 public:
  std::string_view name() const noexcept override { return Module::name; }
  std::span<const std::string_view> command_names() const noexcept override { return command_names_; }
  std::span<const std::string_view> event_names() const noexcept override { return event_names_; }
  std::span<const uint16_t> event_schemas() const noexcept override { return event_schemas_; }
  std::unique_ptr<aggregate_state> make_state() const override { return std::make_unique<box>(); }

  std::expected<void, std::string> decode_payload(uint16_t kind, const simdjson::dom::object& payload,
                                                  std::string& out) const override {
    if (kind >= sizeof...(Cs))
      return std::unexpected("unknown command kind");
    return decoders_[kind](payload, out);
  }

  decision decide(const aggregate_state& state, uint16_t kind, std::string_view payload,
                  event_list& out) const override {
    if (kind >= sizeof...(Cs))
      return std::unexpected("unknown command kind");
    auto before = out.size();
    auto d = deciders_[kind](static_cast<const box&>(state).value, payload, out);
    if (!d)
      out.resize(before);
    return d;
  }

  bool evolve(aggregate_state& state, std::string_view event_type, std::string_view data) const override {
    auto i = event_index(event_type);
    return i < sizeof...(Es) && evolvers_[i](static_cast<box&>(state).value, data);
  }

  bool upcast(size_t index, uint16_t schema, std::string_view data, std::string& out) const override {
    return index < sizeof...(Es) && upcasters_[index](schema, data, out);
  }

  bool write_event_json(std::string_view event_type, std::string_view data, codec::json_writer& out) const override {
    auto i = event_index(event_type);
    return i < sizeof...(Es) && writers_[i](data, out);
  }

  uint64_t state_fingerprint() const noexcept override {
    if constexpr (codec::has_field_list<state_type>)
      return fingerprint_;
    else
      return 0;
  }

  void encode_state(const aggregate_state& state, std::string& out) const override {
    if constexpr (codec::has_field_list<state_type>)
      codec::encode_state(static_cast<const box&>(state).value, out);
  }

  bool decode_state(std::string_view in, aggregate_state& state) const override {
    if constexpr (codec::has_field_list<state_type>) {
      state_type s;
      if (!codec::decode_state(in, s))
        return false;
      static_cast<box&>(state).value = std::move(s);
      return true;
    } else {
      return false;
    }
  }

  /// The state inside a box this type made; for tests and projections.
  static const state_type& unbox(const aggregate_state& s) { return static_cast<const box&>(s).value; }

  /// evolve() on a plain state, for read models that mirror the aggregate.
  static bool evolve_plain(state_type& s, std::string_view event_type, std::string_view data) {
    auto i = event_index(event_type);
    return i < sizeof...(Es) && evolvers_[i](s, data);
  }

 private:
  static size_t event_index(std::string_view event_type) {
    for (size_t i = 0; i < sizeof...(Es); ++i)
      if (event_names_[i] == event_type)
        return i;
    return sizeof...(Es);
  }

  template <class C>
  static std::expected<void, std::string> decode_one(const simdjson::dom::object& payload, std::string& out) {
    if constexpr (is_internal<C>())
      return std::unexpected(fmt::format("{} is sent only by a process manager", C::name));
    C c;
    codec::json_decoder f(payload, "payload.");
    if (!inspect(f, c))
      return std::unexpected(f.error());
    if constexpr (requires { call_validate(c); })
      if (auto why = call_validate(c))
        return std::unexpected(std::move(*why));
    codec::encode_binary(c, out);
    return {};
  }

  template <class C>
  static decision decide_one(const state_type& s, std::string_view payload, event_list& out) {
    C c;
    if (!codec::decode_binary(payload, c))
      return std::unexpected("corrupt command payload");
    event_sink sink(out);
    auto before = out.size();
    auto d = call_decide(s, c, sink);
    if (!d)
      return d;
    // An event the type does not list could be stored but never evolved:
    // the aggregate could not be rebuilt. Refuse the command instead.
    for (auto i = before; i < out.size(); ++i)
      if (std::ranges::find(event_names_, out[i].type) == event_names_.end())
        return std::unexpected(
            fmt::format("{} emitted {}, which aggregate type {} does not list among its events "
                        "(a defect of the domain: add it to the module's `events`)",
                        C::name, out[i].type, Module::name));
    return d;
  }

  template <class E>
  static bool evolve_one(state_type& s, std::string_view data) {
    E e;
    if (!codec::decode_binary(data, e))
      return false;
    call_evolve(s, e);
    return true;
  }

  template <class E>
  static bool write_one(std::string_view data, codec::json_writer& out) {
    E e;
    if (!codec::decode_binary(data, e))
      return false;
    codec::encode_json(e, out);
    return true;
  }

  template <class E>
  static bool upcast_one(uint16_t schema, std::string_view data, std::string& out) {
    E e;
    if (!decode_at(schema, data, e))
      return false;
    codec::encode_binary(e, out);
    return true;
  }

  static uint64_t compute_fingerprint() {
    if constexpr (codec::has_field_list<state_type>)
      return codec::state_fingerprint<state_type>();
    else
      return 0;
  }
  const uint64_t fingerprint_ = compute_fingerprint();

  static constexpr std::array<std::string_view, sizeof...(Cs)> command_names_{Cs::name...};
  static constexpr std::array<uint16_t, sizeof...(Es)> event_schemas_{schema_of<Es>()...};
  static constexpr std::array<std::string_view, sizeof...(Es)> event_names_{Es::name...};

  using decode_fn = std::expected<void, std::string> (*)(const simdjson::dom::object&, std::string&);
  using decide_fn = decision (*)(const state_type&, std::string_view, event_list&);
  using evolve_fn = bool (*)(state_type&, std::string_view);
  using write_fn = bool (*)(std::string_view, codec::json_writer&);
  using upcast_fn = bool (*)(uint16_t, std::string_view, std::string&);

  static constexpr std::array<decode_fn, sizeof...(Cs)> decoders_{&decode_one<Cs>...};
  static constexpr std::array<decide_fn, sizeof...(Cs)> deciders_{&decide_one<Cs>...};
  static constexpr std::array<evolve_fn, sizeof...(Es)> evolvers_{&evolve_one<Es>...};
  static constexpr std::array<write_fn, sizeof...(Es)> writers_{&write_one<Es>...};
  static constexpr std::array<upcast_fn, sizeof...(Es)> upcasters_{&upcast_one<Es>...};
};

} // namespace detail

template <class Module>
using aggregate_type_of = detail::aggregate_type_impl<Module, typename Module::commands, typename Module::events>;

} // namespace sluice::domain
