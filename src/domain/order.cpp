#include "domain/order.h"

#include "domain/aggregate_type_of.h"

#include <algorithm>

namespace sluice::domain::order {

namespace {

struct module {
  static constexpr std::string_view name = "order";
  using state = order::state;
  using commands = type_list<create, add_item, remove_item, confirm, cancel>;
  using events = type_list<created, item_added, item_removed, confirmed, cancelled>;
};

using order_type = aggregate_type_of<module>;

std::unexpected<std::string> reject(std::string message) { return std::unexpected(std::move(message)); }

// Every command but create needs an order that exists and, mostly, is pending.
std::optional<std::unexpected<std::string>> require_pending(const state& s) {
  if (s.status == status::none)
    return reject("order does not exist");
  if (s.status != status::pending)
    return reject(fmt::format("order is {}, not pending", to_string(s.status)));
  return std::nullopt;
}

__extension__ using int128 = __int128;

template <class Lines>
auto find_line(Lines& lines, std::string_view product) {
  return std::find_if(lines.begin(), lines.end(), [&](const line& l) { return l.product == product; });
}

int64_t line_total(int64_t qty, int64_t price_cents) { return qty * price_cents; }

} // namespace

std::string default_sku(std::string_view product) {
  // Byte 64 of the result is all the cut needs to see: stop there.
  char sku[k_max_sku + 1];
  size_t n = 0;
  for (size_t i = 0; i < product.size() && n < sizeof sku;) {
    char c = product[i];
    if (c == ' ') {
      while (i < product.size() && product[i] == ' ')
        ++i;
      c = '-';
    } else {
      ++i;
      if (c >= 'a' && c <= 'z')
        c = static_cast<char>(c - 'a' + 'A');
    }
    sku[n++] = c;
  }
  if (n > k_max_sku) {
    n = k_max_sku;
    while (n > 0 && (static_cast<unsigned char>(sku[n]) & 0xC0) == 0x80)
      --n; // sku[n] continues a character: cut before the character
  }
  return {sku, n};
}

item_added upcast(item_added_v1&& e) {
  auto sku = default_sku(e.product);
  return {std::move(e.product), e.qty, e.price, std::move(sku)};
}

std::string_view to_string(status s) {
  switch (s) {
    case status::none: return "none";
    case status::pending: return "pending";
    case status::confirmed: return "confirmed";
    case status::cancelled: return "cancelled";
  }
  return "?";
}

decision decide(const state& s, const create& c, event_sink& out) {
  if (s.status != status::none)
    return reject("order already exists");
  out.emit(created{c.customer_id});
  return {};
}

decision decide(const state& s, const add_item& c, event_sink& out) {
  if (auto r = require_pending(s))
    return *r;
  auto it = find_line(s.lines, c.product);
  if (it == s.lines.end() && s.lines.size() >= k_max_lines)
    return reject(fmt::format("order already has {} lines", k_max_lines));
  // qty ≤ 10^6 and price ≤ 10^15 cents: 128 bits hold every product and sum here.
  int128 old_line = it == s.lines.end() ? 0 : static_cast<int128>(it->qty) * it->price_cents;
  int128 new_qty = (it == s.lines.end() ? 0 : it->qty) + static_cast<int128>(c.qty);
  int128 total = s.total_cents - old_line + new_qty * c.price.cents;
  if (total > codec::k_max_money_cents || new_qty > INT64_MAX / 2)
    return reject("order total would exceed the largest amount");
  out.emit(item_added{c.product, c.qty, c.price, c.sku ? *c.sku : default_sku(c.product)});
  return {};
}

decision decide(const state& s, const remove_item& c, event_sink& out) {
  if (auto r = require_pending(s))
    return *r;
  if (find_line(s.lines, c.product) == s.lines.end())
    return reject("product is not in the order");
  out.emit(item_removed{c.product});
  return {};
}

decision decide(const state& s, const confirm&, event_sink& out) {
  if (auto r = require_pending(s))
    return *r;
  if (s.lines.empty())
    return reject("order has no items");
  out.emit(confirmed{s.item_count, money{s.total_cents}});
  return {};
}

decision decide(const state& s, const cancel& c, event_sink& out) {
  if (s.status == status::none)
    return reject("order does not exist");
  if (s.status == status::cancelled)
    return reject("order is already cancelled");
  out.emit(cancelled{c.reason, s.status == status::confirmed, money{s.total_cents}});
  return {};
}

void evolve(state& s, const created& e) {
  s.status = status::pending;
  s.customer_id = e.customer_id;
}

void evolve(state& s, const item_added& e) {
  auto it = find_line(s.lines, e.product);
  if (it == s.lines.end()) {
    s.lines.push_back({e.product, e.sku, e.qty, e.price.cents});
    s.item_count += e.qty;
    s.total_cents += line_total(e.qty, e.price.cents);
    return;
  }
  s.total_cents -= line_total(it->qty, it->price_cents);
  it->qty += e.qty;
  it->price_cents = e.price.cents;
  it->sku = e.sku;
  s.item_count += e.qty;
  s.total_cents += line_total(it->qty, it->price_cents);
}

void evolve(state& s, const item_removed& e) {
  auto it = find_line(s.lines, e.product);
  if (it == s.lines.end())
    return;
  s.item_count -= it->qty;
  s.total_cents -= line_total(it->qty, it->price_cents);
  s.lines.erase(it);
}

void evolve(state& s, const confirmed&) { s.status = status::confirmed; }

void evolve(state& s, const cancelled&) { s.status = status::cancelled; }

const aggregate_type& type() {
  static const order_type t;
  return t;
}

const state& state_of(const aggregate_state& s) { return order_type::unbox(s); }

bool apply_event(state& s, std::string_view event_type, std::string_view data) {
  return order_type::evolve_plain(s, event_type, data);
}

} // namespace sluice::domain::order
