// The stock of one product in one warehouse: receive, reserve, release,
// ship. What is on hand never goes below zero, nor below what is reserved.
#pragma once

#include "codec/fields.h"
#include "domain/aggregate_type.h"

#include <cstdint>
#include <string>

namespace sluice::domain {
class event_sink;
}

namespace inventory::stock {

using sluice::codec::field;
using sluice::domain::decision;
using sluice::domain::event_sink;

inline constexpr int64_t k_max_qty = 1'000'000'000;

struct state {
  bool registered = false;
  std::string warehouse;
  int64_t reorder_level = 0;
  int64_t on_hand = 0;  ///< in the warehouse, reserved or not
  int64_t reserved = 0; ///< promised to orders, not shipped yet

  int64_t available() const { return on_hand - reserved; }
};

// Commands.

struct register_item {
  static constexpr std::string_view name = "stock.register";
  std::string warehouse;
  int64_t reorder_level = 0;
};
template <class F>
bool inspect(F& f, register_item& x) {
  return f(field("warehouse", x.warehouse, 1, 64), field("reorder_level", x.reorder_level, 0, k_max_qty));
}

struct receive {
  static constexpr std::string_view name = "stock.receive";
  int64_t qty = 0;
};
template <class F>
bool inspect(F& f, receive& x) {
  return f(field("qty", x.qty, 1, k_max_qty));
}

struct reserve {
  static constexpr std::string_view name = "stock.reserve";
  int64_t qty = 0;
};
template <class F>
bool inspect(F& f, reserve& x) {
  return f(field("qty", x.qty, 1, k_max_qty));
}

struct release {
  static constexpr std::string_view name = "stock.release";
  int64_t qty = 0;
};
template <class F>
bool inspect(F& f, release& x) {
  return f(field("qty", x.qty, 1, k_max_qty));
}

struct ship {
  static constexpr std::string_view name = "stock.ship";
  int64_t qty = 0;
};
template <class F>
bool inspect(F& f, ship& x) {
  return f(field("qty", x.qty, 1, k_max_qty));
}

// Events: what happened, with what a view needs to follow it.

struct registered {
  static constexpr std::string_view name = "stock.registered";
  std::string warehouse;
  int64_t reorder_level = 0;
};
template <class F>
bool inspect(F& f, registered& x) {
  return f(field("warehouse", x.warehouse), field("reorder_level", x.reorder_level));
}

struct received {
  static constexpr std::string_view name = "stock.received";
  int64_t qty = 0;
};
template <class F>
bool inspect(F& f, received& x) {
  return f(field("qty", x.qty));
}

struct reserved {
  static constexpr std::string_view name = "stock.reserved";
  int64_t qty = 0;
};
template <class F>
bool inspect(F& f, reserved& x) {
  return f(field("qty", x.qty));
}

struct released {
  static constexpr std::string_view name = "stock.released";
  int64_t qty = 0;
};
template <class F>
bool inspect(F& f, released& x) {
  return f(field("qty", x.qty));
}

struct shipped {
  static constexpr std::string_view name = "stock.shipped";
  int64_t qty = 0;
};
template <class F>
bool inspect(F& f, shipped& x) {
  return f(field("qty", x.qty));
}

decision decide(const state& s, const register_item& c, event_sink& out);
decision decide(const state& s, const receive& c, event_sink& out);
decision decide(const state& s, const reserve& c, event_sink& out);
decision decide(const state& s, const release& c, event_sink& out);
decision decide(const state& s, const ship& c, event_sink& out);

void evolve(state& s, const registered& e);
void evolve(state& s, const received& e);
void evolve(state& s, const reserved& e);
void evolve(state& s, const released& e);
void evolve(state& s, const shipped& e);

/// The stock aggregate type, for the domain model.
const sluice::domain::aggregate_type& type();

/// Applies an event to a plain state (for views); false if it is not a stock event.
bool apply_event(state& s, std::string_view event_type, std::string_view data);

} // namespace inventory::stock
