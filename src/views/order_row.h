// An order as the order views keep it: the state of domain::order packed
// into one short_string, inline up to 40 bytes (a two-line order of short
// names), so that a million rows are a million map entries and no
// allocations of their own. The views need the lines to follow the totals
// (a re-added product is repriced, a removed one subtracted) and the skus
// to render them; they need no std::string or vector per order for that.
//
// Layout, in codec/binary.h's encoding (an empty row: status none):
//
//   status   one byte (order::status)
//   string   customer id
//   int      item count
//   int      total, cents
//   uint     number of lines, then per line in order of first add:
//            string product, string sku, int qty, int price cents
#pragma once

#include "base/short_string.h"
#include "codec/binary.h"
#include "domain/order.h"

#include <cstdint>
#include <string_view>

namespace sluice::views {

class order_row {
 public:
  /// Applies an order event as order::evolve() does; false if the type is
  /// not an order event or the data does not decode.
  bool apply(std::string_view event_type, std::string_view data);

  domain::order::status status() const {
    return bytes_.empty() ? domain::order::status::none : static_cast<domain::order::status>(bytes_.data()[0]);
  }
  std::string_view customer_id() const { return header().customer_id; }
  int64_t item_count() const { return header().item_count; }
  int64_t total_cents() const { return header().total_cents; }

  /// Calls f(sku) for each line, in order of first add.
  template <class F>
  void for_each_sku(F&& f) const;

  /// The packed bytes (checkpoints save them as they are).
  std::string_view bytes() const { return bytes_.view(); }
  /// Takes bytes() of a row; false, the row left as it was, if they do not
  /// decode as one.
  bool assign(std::string_view bytes);

  /// The same order as a domain state (tests compare the two).
  domain::order::state unpack() const;

 private:
  struct header_view {
    std::string_view customer_id;
    int64_t item_count = 0;
    int64_t total_cents = 0;
    uint64_t lines = 0;
    std::string_view rest; ///< the lines
  };
  header_view header() const;

  short_string bytes_;
};

template <class F>
void order_row::for_each_sku(F&& f) const {
  auto h = header();
  codec::binary_reader r(h.rest);
  for (uint64_t i = 0; i < h.lines; ++i) {
    r.string();
    auto sku = r.string();
    r.sint();
    r.sint();
    f(sku);
  }
}

} // namespace sluice::views
