#include "views/order_row.h"

#include "codec/fields.h"

#include <string>

namespace sluice::views {

namespace order = domain::order;

namespace {

// The line fields as they are packed.
struct packed_line {
  std::string_view product, sku;
  int64_t qty = 0, price_cents = 0;
};

packed_line read_line(codec::binary_reader& r) {
  packed_line l;
  l.product = r.string();
  l.sku = r.string();
  l.qty = r.sint();
  l.price_cents = r.sint();
  return l;
}

void write_line(codec::binary_writer& w, const packed_line& l) {
  w.string(l.product);
  w.string(l.sku);
  w.sint(l.qty);
  w.sint(l.price_cents);
}

int64_t line_total(int64_t qty, int64_t price_cents) { return qty * price_cents; }

// Copies `count` packed lines to `w`, passing the first of `product` to
// change(line), which says whether to keep it; false if there is none.
template <class F>
bool rewrite_line(std::string_view lines, uint64_t count, std::string_view product, codec::binary_writer& w,
                  F&& change) {
  codec::binary_reader r(lines);
  bool found = false;
  for (uint64_t i = 0; i < count; ++i) {
    auto l = read_line(r);
    if (!found && l.product == product) {
      found = true;
      if (!change(l))
        continue;
    }
    write_line(w, l);
  }
  return found;
}

// Copies the `n` packed lines of `packed` to `lw` with `e` added: to the
// line of its product, repriced, or as a new line (then one more `count`).
void add_line(const order::item_added& e, std::string_view packed, uint64_t n, codec::binary_writer& lw,
              int64_t& total_cents, uint64_t& count) {
  bool found = rewrite_line(packed, n, e.product, lw, [&](packed_line& l) {
    total_cents -= line_total(l.qty, l.price_cents);
    l.qty += e.qty;
    l.price_cents = e.price.cents;
    l.sku = e.sku;
    total_cents += line_total(l.qty, l.price_cents);
    return true;
  });
  if (!found) {
    write_line(lw, {e.product, e.sku, e.qty, e.price.cents});
    total_cents += line_total(e.qty, e.price.cents);
    ++count;
  }
}

// Copies the `n` packed lines of `packed` to `lw` without the line of e's
// product, taken off the totals and `count`; false if there is none.
bool remove_line(const order::item_removed& e, std::string_view packed, uint64_t n, codec::binary_writer& lw,
                 int64_t& item_count, int64_t& total_cents, uint64_t& count) {
  return rewrite_line(packed, n, e.product, lw, [&](packed_line& l) {
    item_count -= l.qty;
    total_cents -= line_total(l.qty, l.price_cents);
    --count;
    return false;
  });
}

// Packs a row (order_row.h has the layout) into `out`.
void pack_row(std::string& out, order::status status, std::string_view customer, int64_t item_count,
              int64_t total_cents, uint64_t count, std::string_view lines) {
  codec::binary_writer w(out);
  out.push_back(static_cast<char>(status));
  w.string(customer);
  w.sint(item_count);
  w.sint(total_cents);
  w.uint(count);
  out.append(lines);
}

} // namespace

order_row::header_view order_row::header() const {
  header_view h;
  if (bytes_.empty())
    return h;
  codec::binary_reader r(bytes_.view().substr(1));
  h.customer_id = r.string();
  h.item_count = r.sint();
  h.total_cents = r.sint();
  h.lines = r.uint();
  h.rest = r.rest();
  return h;
}

bool order_row::apply(std::string_view event_type, std::string_view data) {
  // Rows are rebuilt whole (a few dozen bytes) into buffers that keep their
  // capacity: no allocation per event unless the row outgrows its inline bytes.
  thread_local std::string out, lines;
  out.clear();
  lines.clear();
  auto h = header();
  auto status = this->status();
  std::string_view customer = h.customer_id;
  std::string created_customer;
  uint64_t count = h.lines;
  codec::binary_writer lw(lines);
  if (event_type == order::created::name) {
    order::created e;
    if (!codec::decode_binary(data, e))
      return false;
    status = order::status::pending;
    created_customer = std::move(e.customer_id);
    customer = created_customer;
    lines.append(h.rest);
  } else if (event_type == order::item_added::name) {
    order::item_added e;
    if (!codec::decode_binary(data, e))
      return false;
    add_line(e, h.rest, h.lines, lw, h.total_cents, count);
    h.item_count += e.qty;
  } else if (event_type == order::item_removed::name) {
    order::item_removed e;
    if (!codec::decode_binary(data, e))
      return false;
    if (!remove_line(e, h.rest, h.lines, lw, h.item_count, h.total_cents, count))
      return true;
  } else if (event_type == order::confirmed::name) {
    if (order::confirmed e; !codec::decode_binary(data, e))
      return false;
    status = order::status::confirmed;
    lines.append(h.rest);
  } else if (event_type == order::cancelled::name) {
    if (order::cancelled e; !codec::decode_binary(data, e))
      return false;
    status = order::status::cancelled;
    lines.append(h.rest);
  } else {
    return false;
  }
  pack_row(out, status, customer, h.item_count, h.total_cents, count, lines);
  bytes_.assign(out);
  return true;
}

bool order_row::assign(std::string_view bytes) {
  if (bytes.empty()) {
    bytes_.assign(bytes);
    return true;
  }
  if (static_cast<uint8_t>(bytes[0]) > static_cast<uint8_t>(order::status::cancelled))
    return false;
  codec::binary_reader r(bytes.substr(1));
  r.string();
  r.sint();
  r.sint();
  uint64_t n = r.uint();
  if (!r.ok() || n > order::k_max_lines)
    return false;
  for (uint64_t i = 0; i < n; ++i)
    read_line(r);
  if (!r.ok() || !r.at_end())
    return false;
  bytes_.assign(bytes);
  return true;
}

order::state order_row::unpack() const {
  order::state s;
  auto h = header();
  s.status = status();
  s.customer_id = h.customer_id;
  s.item_count = h.item_count;
  s.total_cents = h.total_cents;
  codec::binary_reader r(h.rest);
  for (uint64_t i = 0; i < h.lines; ++i) {
    auto l = read_line(r);
    s.lines.push_back({std::string(l.product), std::string(l.sku), l.qty, l.price_cents});
  }
  return s;
}

} // namespace sluice::views
