// The commands sluice-load sends, and the ids that tie an acknowledgement to
// its event in the log. Every id carries the run id, so a run only ever
// touches aggregates it created and --verify can tell its events apart.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace sluice::load {

enum class domain : uint8_t { account, order };

/// One command as sent: enough to rebuild its body and its effect on a view.
struct command {
  uint64_t seq = 0;  // per connection
  uint32_t conn = 0; // connection number, unique in the run
  uint32_t key = 0;  // aggregate number, 0 … aggregates-1
  domain dom = domain::account;
  uint8_t product = 0; // order: line product P<product>
  uint16_t qty = 0;    // order: quantity added
  int64_t cents = 0;   // account: amount deposited
};

/// A command the server acknowledged (200), at the position it gave.
struct ack {
  uint64_t position = 0;
  command cmd;
};

/// Order lines have a fixed price per product, so a view's total follows
/// from the quantities alone, whatever order the server applied them in.
constexpr int64_t product_price_cents(uint8_t product) { return (int64_t{product} + 1) * 125; }
constexpr int k_products = 16;

std::string aggregate_id(std::string_view run, domain d, uint64_t key);
std::string_view view_of(domain d);

/// `{"command_id":…,"type":…,"aggregate_id":…,"payload":{…}}`, no newline.
void append_command_json(std::string& out, std::string_view run, const command& c);
/// The command that creates aggregate `key` (account.open / order.create).
void append_create_json(std::string& out, std::string_view run, domain d, uint64_t key);

/// Step `step` of new order `order` of connection `conn` (the `create`
/// workload): 0 its order.create, then order.add_item of product step-1.
void append_fresh_order_json(std::string& out, std::string_view run, const command& c, uint64_t order, uint32_t step);

/// Command ids are "<run>-<conn>-<seq>"; false for any other id.
bool parse_command_id(std::string_view id, std::string_view run, uint32_t& conn, uint64_t& seq);

} // namespace sluice::load
