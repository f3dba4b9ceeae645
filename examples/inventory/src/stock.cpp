#include "stock.h"

#include "domain/aggregate_type_of.h"

#include <fmt/format.h>

namespace inventory::stock {

namespace {

struct module {
  static constexpr std::string_view name = "stock";
  using state = stock::state;
  using commands = sluice::domain::type_list<register_item, receive, reserve, release, ship>;
  using events = sluice::domain::type_list<registered, received, reserved, released, shipped>;
};
using stock_type = sluice::domain::aggregate_type_of<module>;

std::unexpected<std::string> reject(std::string why) { return std::unexpected(std::move(why)); }

} // namespace

decision decide(const state& s, const register_item& c, event_sink& out) {
  if (s.registered)
    return reject("stock item is already registered");
  out.emit(registered{c.warehouse, c.reorder_level});
  return {};
}

decision decide(const state& s, const receive& c, event_sink& out) {
  if (!s.registered)
    return reject("stock item is not registered");
  if (s.on_hand + c.qty > k_max_qty)
    return reject(fmt::format("a warehouse holds at most {} of an item", k_max_qty));
  out.emit(received{c.qty});
  return {};
}

decision decide(const state& s, const reserve& c, event_sink& out) {
  if (!s.registered)
    return reject("stock item is not registered");
  if (c.qty > s.available())
    return reject(fmt::format("only {} available", s.available()));
  out.emit(reserved{c.qty});
  return {};
}

decision decide(const state& s, const release& c, event_sink& out) {
  if (!s.registered)
    return reject("stock item is not registered");
  if (c.qty > s.reserved)
    return reject(fmt::format("only {} reserved", s.reserved));
  out.emit(released{c.qty});
  return {};
}

decision decide(const state& s, const ship& c, event_sink& out) {
  if (!s.registered)
    return reject("stock item is not registered");
  if (c.qty > s.reserved)
    return reject(fmt::format("only {} reserved; reserve before shipping", s.reserved));
  out.emit(shipped{c.qty});
  return {};
}

void evolve(state& s, const registered& e) {
  s.registered = true;
  s.warehouse = e.warehouse;
  s.reorder_level = e.reorder_level;
}
void evolve(state& s, const received& e) { s.on_hand += e.qty; }
void evolve(state& s, const reserved& e) { s.reserved += e.qty; }
void evolve(state& s, const released& e) { s.reserved -= e.qty; }
void evolve(state& s, const shipped& e) {
  s.reserved -= e.qty;
  s.on_hand -= e.qty;
}

const sluice::domain::aggregate_type& type() {
  static const stock_type t;
  return t;
}

bool apply_event(state& s, std::string_view event_type, std::string_view data) {
  return stock_type::evolve_plain(s, event_type, data);
}

} // namespace inventory::stock
