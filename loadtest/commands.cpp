#include "commands.h"

#include <fmt/format.h>

#include <charconv>

namespace sluice::load {

std::string aggregate_id(std::string_view run, domain d, uint64_t key) {
  return fmt::format("{}-{}-{}", d == domain::account ? "ACC" : "ORD", run, key);
}

std::string_view view_of(domain d) { return d == domain::account ? "account_balance" : "order_summary"; }

void append_command_json(std::string& out, std::string_view run, const command& c) {
  auto o = std::back_inserter(out);
  const char* prefix = c.dom == domain::account ? "ACC" : "ORD";
  if (c.dom == domain::account) {
    fmt::format_to(o,
                   R"({{"command_id":"{}-{}-{}","type":"account.deposit","aggregate_id":"{}-{}-{}",)"
                   R"("payload":{{"amount":{}.{:02}}}}})",
                   run, c.conn, c.seq, prefix, run, c.key, c.cents / 100, c.cents % 100);
  } else {
    int64_t price = product_price_cents(c.product);
    fmt::format_to(o,
                   R"({{"command_id":"{}-{}-{}","type":"order.add_item","aggregate_id":"{}-{}-{}",)"
                   R"("payload":{{"product":"P{}","qty":{},"price":{}.{:02}}}}})",
                   run, c.conn, c.seq, prefix, run, c.key, c.product, c.qty, price / 100, price % 100);
  }
}

void append_create_json(std::string& out, std::string_view run, domain d, uint64_t key) {
  auto o = std::back_inserter(out);
  if (d == domain::account)
    fmt::format_to(o,
                   R"({{"command_id":"{}-s-a{}","type":"account.open","aggregate_id":"ACC-{}-{}",)"
                   R"("payload":{{"owner":"load-{}"}}}})",
                   run, key, run, key, key);
  else
    fmt::format_to(o,
                   R"({{"command_id":"{}-s-o{}","type":"order.create","aggregate_id":"ORD-{}-{}",)"
                   R"("payload":{{"customer_id":"C-{}"}}}})",
                   run, key, run, key, key % 1000);
}

void append_fresh_order_json(std::string& out, std::string_view run, const command& c, uint64_t order, uint32_t step) {
  auto o = std::back_inserter(out);
  if (step == 0) {
    fmt::format_to(o,
                   R"({{"command_id":"{}-{}-{}","type":"order.create","aggregate_id":"ORD-{}-n{}-{}",)"
                   R"("payload":{{"customer_id":"C-{}"}}}})",
                   run, c.conn, c.seq, run, c.conn, order, order % 1000);
    return;
  }
  auto product = static_cast<uint8_t>((step - 1) % k_products);
  int64_t price = product_price_cents(product);
  fmt::format_to(o,
                 R"({{"command_id":"{}-{}-{}","type":"order.add_item","aggregate_id":"ORD-{}-n{}-{}",)"
                 R"("payload":{{"product":"P{}","qty":1,"price":{}.{:02}}}}})",
                 run, c.conn, c.seq, run, c.conn, order, product, price / 100, price % 100);
}

bool parse_command_id(std::string_view id, std::string_view run, uint32_t& conn, uint64_t& seq) {
  if (id.size() <= run.size() + 1 || !id.starts_with(run) || id[run.size()] != '-')
    return false;
  id.remove_prefix(run.size() + 1);
  auto dash = id.find('-');
  if (dash == std::string_view::npos)
    return false;
  auto [p, e1] = std::from_chars(id.data(), id.data() + dash, conn);
  if (e1 != std::errc{} || p != id.data() + dash)
    return false;
  auto [q, e2] = std::from_chars(id.data() + dash + 1, id.data() + id.size(), seq);
  return e2 == std::errc{} && q == id.data() + id.size();
}

} // namespace sluice::load
