// The order aggregate (SPEC §3): create, add/remove items, confirm, cancel.
#pragma once

#include "codec/fields.h"
#include "codec/money.h"
#include "domain/aggregate_type.h"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sluice::domain {
class event_sink;
}

namespace sluice::domain::order {

using codec::field;
using codec::money;

inline constexpr size_t k_max_lines = 1000;
inline constexpr int64_t k_max_qty = 1'000'000;
inline constexpr int64_t k_max_string = 1024; ///< bytes in a customer id, product or reason
inline constexpr int64_t k_max_sku = 64;      ///< bytes in a sku (SPEC §12)

enum class status : uint8_t { none, pending, confirmed, cancelled };

std::string_view to_string(status s);

/// The sku of a product given none (SPEC §12): ASCII letters uppercased,
/// each run of spaces one '-', cut to 64 bytes at a character boundary.
std::string default_sku(std::string_view product);

struct line {
  std::string product;
  std::string sku; ///< of the latest add
  int64_t qty = 0;
  int64_t price_cents = 0; ///< of the latest add
};

template <class F>
bool inspect(F& f, line& x) {
  return f(field("product", x.product), field("sku", x.sku), field("qty", x.qty), field("price_cents", x.price_cents));
}

struct state {
  order::status status = order::status::none;
  std::string customer_id;
  std::vector<line> lines; ///< in order of first add
  int64_t item_count = 0;  ///< sum of qty
  int64_t total_cents = 0; ///< sum of qty × price
};

/// The field list of snapshots: changing it changes the fingerprint.
template <class F>
bool inspect(F& f, state& x) {
  return f(field("status", x.status), field("customer_id", x.customer_id), field("lines", x.lines),
           field("item_count", x.item_count), field("total_cents", x.total_cents));
}

// Commands.

struct create {
  static constexpr std::string_view name = "order.create";
  std::string customer_id;
};
template <class F>
bool inspect(F& f, create& x) {
  return f(field("customer_id", x.customer_id, 1, k_max_string));
}

struct add_item {
  static constexpr std::string_view name = "order.add_item";
  std::string product;
  int64_t qty = 0;
  money price;
  std::optional<std::string> sku; ///< absent: default_sku(product)
};
template <class F>
bool inspect(F& f, add_item& x) {
  return f(field("product", x.product, 1, k_max_string), field("qty", x.qty, 1, k_max_qty),
           field("price", x.price, 0, codec::k_max_money_cents), field("sku", x.sku, 1, k_max_sku).not_null());
}

struct remove_item {
  static constexpr std::string_view name = "order.remove_item";
  std::string product;
};
template <class F>
bool inspect(F& f, remove_item& x) {
  return f(field("product", x.product, 1, k_max_string));
}

struct confirm {
  static constexpr std::string_view name = "order.confirm";
};
template <class F>
bool inspect(F& f, confirm&) {
  return f();
}

struct cancel {
  static constexpr std::string_view name = "order.cancel";
  std::optional<std::string> reason;
};
template <class F>
bool inspect(F& f, cancel& x) {
  return f(field("reason", x.reason, 0, k_max_string));
}

// Events. `confirmed` and `cancelled` carry the order's figures at that
// moment so that read models need not keep per-order history.

struct created {
  static constexpr std::string_view name = "order.created";
  std::string customer_id;
};
template <class F>
bool inspect(F& f, created& x) {
  return f(field("customer_id", x.customer_id));
}

/// order.item_added as written before skus (schema 1).
struct item_added_v1 {
  std::string product;
  int64_t qty = 0;
  money price;
};
template <class F>
bool inspect(F& f, item_added_v1& x) {
  return f(field("product", x.product), field("qty", x.qty), field("price", x.price));
}

struct item_added {
  static constexpr std::string_view name = "order.item_added";
  static constexpr uint16_t schema = 2;
  using previous = item_added_v1;
  std::string product;
  int64_t qty = 0;
  money price;
  std::string sku;
};
template <class F>
bool inspect(F& f, item_added& x) {
  return f(field("product", x.product), field("qty", x.qty), field("price", x.price), field("sku", x.sku));
}

/// Schema 1 → 2: the sku an add without one gets.
item_added upcast(item_added_v1&& e);

struct item_removed {
  static constexpr std::string_view name = "order.item_removed";
  std::string product;
};
template <class F>
bool inspect(F& f, item_removed& x) {
  return f(field("product", x.product));
}

struct confirmed {
  static constexpr std::string_view name = "order.confirmed";
  int64_t item_count = 0;
  money total;
};
template <class F>
bool inspect(F& f, confirmed& x) {
  return f(field("item_count", x.item_count), field("total", x.total));
}

struct cancelled {
  static constexpr std::string_view name = "order.cancelled";
  std::optional<std::string> reason;
  bool was_confirmed = false;
  money total;
};
template <class F>
bool inspect(F& f, cancelled& x) {
  return f(field("reason", x.reason), field("was_confirmed", x.was_confirmed), field("total", x.total));
}

decision decide(const state& s, const create& c, event_sink& out);
decision decide(const state& s, const add_item& c, event_sink& out);
decision decide(const state& s, const remove_item& c, event_sink& out);
decision decide(const state& s, const confirm& c, event_sink& out);
decision decide(const state& s, const cancel& c, event_sink& out);

void evolve(state& s, const created& e);
void evolve(state& s, const item_added& e);
void evolve(state& s, const item_removed& e);
void evolve(state& s, const confirmed& e);
void evolve(state& s, const cancelled& e);

/// The order aggregate type, for registration.
const aggregate_type& type();

/// Applies an event of this type to a plain state (read models). False if
/// the type is not one of this aggregate's events or the data does not decode.
bool apply_event(state& s, std::string_view event_type, std::string_view data);

/// The state inside an aggregate_state made by type().
const state& state_of(const aggregate_state& s);

} // namespace sluice::domain::order
