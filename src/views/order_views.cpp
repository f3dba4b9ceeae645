#include "views/order_views.h"

#include "base/checksum.h"
#include "base/flat_string_map.h"
#include "base/string_hash.h"
#include "codec/binary.h"
#include "codec/fields.h"
#include "codec/state_fields.h"
#include "domain/account.h"
#include "domain/order.h"
#include "domain/transfer.h"
#include "views/order_row.h"

#include <string>
#include <unordered_map>
#include <vector>

namespace sluice::views {

namespace order = domain::order;
namespace account = domain::account;
namespace transfer = domain::transfer;

namespace {

// The row of `key`, found without building a string (ids are often longer
// than the short-string buffer); made on first use.
template <class Row>
Row& row(string_map<Row>& rows, std::string_view key) {
  if (auto it = rows.find(key); it != rows.end())
    return it->second;
  return rows.emplace(std::string(key), Row{}).first->second;
}

std::string fmt_u64(uint64_t v) { return std::to_string(v) + '/'; }

// A projector's checkpoint layout: its own tag (bumped when save() changes)
// and the field lists of the states it keeps.
template <class... States>
uint64_t layout(std::string_view tag) {
  std::string parts(tag);
  ((parts += fmt_u64(codec::state_fingerprint<States>())), ...);
  return checksum64(parts.data(), parts.size());
}

// Rows of a state and a version per key: id, version, state.
template <class Row>
void save_rows(const string_map<Row>& rows, std::string& out) {
  codec::binary_writer w(out);
  w.uint(rows.size());
  std::string scratch;
  for (auto& [key, r] : rows) {
    w.string(key);
    w.uint(r.version);
    scratch.clear();
    codec::encode_state(r.state, scratch);
    w.string(scratch);
  }
}

template <class Row>
bool load_rows(std::string_view in, string_map<Row>& rows) {
  codec::binary_reader r(in);
  uint64_t n = r.uint();
  if (!r.ok() || n > in.size())
    return false;
  rows.reserve(n);
  for (uint64_t i = 0; i < n; ++i) {
    auto key = r.string();
    Row row;
    row.version = r.uint();
    if (!r.ok() || !codec::decode_state(r.string(), row.state) || !r.ok() ||
        !rows.emplace(std::string(key), std::move(row)).second)
      return false;
  }
  return r.at_end();
}

bool of_type(const log::record& r, std::string_view aggregate_type) {
  return r.type.size() > aggregate_type.size() && r.type[aggregate_type.size()] == '.' &&
         r.type.starts_with(aggregate_type);
}

// Each order's row follows the aggregate's state (order_row); the row and
// its key are one entry of a flat map, nothing allocated per order.
class order_summary final : public projector {
 public:
  order_summary(uint32_t shard, uint32_t shards) : shard_(shard), shards_(shards) {}

  std::string_view route(const log::record& r) override {
    return of_type(r, "order") && shard_of(r.aggregate_id, shards_) == shard_ ? r.aggregate_id : std::string_view{};
  }

  apply_result apply(const log::record& r, std::string_view key) override {
    auto& entry = rows_.try_emplace(key).first;
    if (!entry.order.apply(r.type, r.data))
      return false;
    entry.version = r.version;
    return true;
  }

  void render(std::string_view key, codec::json_writer& w) const override {
    auto& entry = *rows_.find(key);
    auto& o = entry.order;
    w.begin_object().key("order_id").string(key).key("customer_id").string(o.customer_id());
    w.key("status").string(order::to_string(o.status()));
    w.key("item_count").integer(o.item_count()).key("total").money(o.total_cents());
    w.key("skus").begin_array();
    o.for_each_sku([&](std::string_view sku) { w.string(sku); });
    w.end_array();
    w.key("version").uinteger(entry.version).end_object();
  }

  uint64_t checkpoint_fingerprint() const override { return layout<>("order_summary.rows.2"); }

  // The number of rows, then each row's id, version and packed order.
  void save(std::string& out) const override {
    codec::binary_writer w(out);
    w.uint(rows_.size());
    rows_.for_each([&](std::string_view key, const row_type& r) {
      w.string(key);
      w.uint(r.version);
      w.string(r.order.bytes());
    });
  }

  bool load(std::string_view in) override {
    codec::binary_reader r(in);
    uint64_t n = r.uint();
    if (!r.ok() || n > in.size())
      return false;
    rows_.reserve(n);
    for (uint64_t i = 0; i < n; ++i) {
      auto key = r.string();
      uint64_t version = r.uint();
      auto bytes = r.string();
      if (!r.ok())
        return false;
      auto [entry, fresh] = rows_.try_emplace(key);
      if (!fresh || !entry.order.assign(bytes))
        return false;
      entry.version = version;
    }
    return r.at_end();
  }

 private:
  struct row_type {
    order_row order;
    uint64_t version = 0;
  };
  uint32_t shard_, shards_;
  flat_string_map<row_type> rows_;
};

// Sharded by customer: a shard follows only the orders its customers created.
// Version 2 adds total_spent: what the customer's confirmed orders add up to.
class customer_orders final : public projector {
 public:
  customer_orders(uint32_t shard, uint32_t shards, uint32_t version)
      : shard_(shard), shards_(shards), version_(version) {}

  // An order's first event names its customer: the order is routed to it
  // from then on, and joins the customer's list when that event applies.
  std::string_view route(const log::record& r) override {
    if (!of_type(r, "order"))
      return {};
    auto* n = find(r.aggregate_id);
    if (n == nullptr) {
      order::created e;
      if (r.type != order::created::name || !codec::decode_binary(r.data, e) ||
          shard_of(e.customer_id, shards_) != shard_)
        return {};
      auto customer = customers_.try_emplace(std::move(e.customer_id)).first;
      n = &orders_.try_emplace_node(r.aggregate_id).first;
      n->value.customer = &customer->first;
      last_ = n;
    }
    return *n->value.customer;
  }

  apply_result apply(const log::record& r, std::string_view key) override {
    auto* n = find(r.aggregate_id);
    if (n == nullptr)
      return false;
    bool first = n->value.order.status() == order::status::none;
    if (!n->value.order.apply(r.type, r.data))
      return false;
    if (first)
      customers_.find(key)->second.push_back(n);
    return true;
  }

  void render(std::string_view key, codec::json_writer& w) const override {
    auto& list = customers_.find(key)->second;
    w.begin_object().key("customer_id").string(key).key("order_count").uinteger(list.size());
    if (version_ >= 2) {
      int64_t spent = 0;
      for (auto* n : list)
        if (n->value.order.status() == order::status::confirmed)
          spent += n->value.order.total_cents();
      w.key("total_spent").money(spent);
    }
    w.key("orders").begin_array();
    for (auto* n : list) {
      auto& o = n->value.order;
      w.begin_object().key("order_id").string(n->key).key("status").string(order::to_string(o.status()));
      w.key("item_count").integer(o.item_count()).key("total").money(o.total_cents()).end_object();
    }
    w.end_array().end_object();
  }

  uint64_t checkpoint_fingerprint() const override { return layout<>("customer_orders.3"); }

  // The number of orders (to size the map once), then customers with their
  // order ids in creation order, each with its packed order.
  void save(std::string& out) const override {
    codec::binary_writer w(out);
    w.uint(orders_.size());
    w.uint(customers_.size());
    for (auto& [customer, list] : customers_) {
      w.string(customer);
      w.uint(list.size());
      for (auto* n : list) {
        w.string(n->key);
        w.string(n->value.order.bytes());
      }
    }
  }

  bool load(std::string_view in) override {
    codec::binary_reader r(in);
    uint64_t total = r.uint(), n = r.uint();
    if (!r.ok() || n > in.size() || total > in.size())
      return false;
    orders_.reserve(total);
    customers_.reserve(n);
    for (uint64_t c = 0; c < n; ++c) {
      auto customer = r.string();
      uint64_t count = r.uint();
      if (!r.ok() || count > in.size())
        return false;
      auto [list, added] = customers_.try_emplace(std::string(customer));
      if (!added)
        return false;
      list->second.reserve(count);
      for (uint64_t i = 0; i < count; ++i) {
        auto id = r.string();
        auto bytes = r.string();
        if (!r.ok())
          return false;
        auto [order, fresh] = orders_.try_emplace_node(id);
        if (!fresh || !order.value.order.assign(bytes) || order.value.order.status() == order::status::none)
          return false;
        order.value.customer = &list->first;
        list->second.push_back(&order);
      }
    }
    return r.at_end();
  }

 private:
  struct order_entry {
    order_row order;
    const std::string* customer = nullptr; ///< the key of customers_ it is routed to, set by route()
  };
  using order_map = flat_string_map<order_entry>;

  // route() and apply() of one event ask for the same order: the second
  // finds it without hashing.
  order_map::node* find(std::string_view id) {
    if (last_ != nullptr && last_->key == id)
      return last_;
    auto* n = orders_.find_node(id);
    if (n != nullptr)
      last_ = n;
    return n;
  }

  uint32_t shard_, shards_, version_;
  order_map orders_; // entries stay put: the lists point at them
  string_map<std::vector<const order_map::node*>> customers_;
  order_map::node* last_ = nullptr;
};

// One key, "all", kept by the shard it hashes to like any key. Totals come
// in the confirmed and cancelled events, so no per-order history is needed.
class order_stats final : public projector {
 public:
  order_stats(uint32_t shard, uint32_t shards) : active_(shard == shard_of("all", shards)) {}

  std::string_view route(const log::record& r) override {
    return active_ && of_type(r, "order") ? std::string_view("all") : std::string_view{};
  }

  apply_result apply(const log::record& r, std::string_view) override {
    if (r.type == order::created::name) {
      ++created_;
    } else if (order::item_added e; r.type == order::item_added::name && codec::decode_binary(r.data, e)) {
      items_ += e.qty;
    } else if (order::confirmed c; r.type == order::confirmed::name && codec::decode_binary(r.data, c)) {
      ++confirmed_;
      revenue_ += c.total.cents;
    } else if (order::cancelled x; r.type == order::cancelled::name && codec::decode_binary(r.data, x)) {
      ++cancelled_;
      if (x.was_confirmed)
        revenue_ -= x.total.cents;
    } else {
      return false;
    }
    return true;
  }

  void render(std::string_view, codec::json_writer& w) const override {
    w.begin_object().key("orders_created").uinteger(created_).key("orders_confirmed").uinteger(confirmed_);
    w.key("orders_cancelled").uinteger(cancelled_).key("items_added").integer(items_);
    w.key("revenue_confirmed").money(revenue_).end_object();
  }

  uint64_t checkpoint_fingerprint() const override { return layout<>("order_stats.1"); }

  void save(std::string& out) const override {
    codec::binary_writer w(out);
    for (uint64_t v : {created_, confirmed_, cancelled_})
      w.uint(v);
    w.sint(items_);
    w.sint(revenue_);
  }

  bool load(std::string_view in) override {
    codec::binary_reader r(in);
    created_ = r.uint();
    confirmed_ = r.uint();
    cancelled_ = r.uint();
    items_ = r.sint();
    revenue_ = r.sint();
    return r.ok() && r.at_end();
  }

 private:
  bool active_;
  uint64_t created_ = 0, confirmed_ = 0, cancelled_ = 0;
  int64_t items_ = 0;
  int64_t revenue_ = 0; // cents; 9.2e18 holds 9,000 orders at the largest total
};

class account_balance final : public projector {
 public:
  account_balance(uint32_t shard, uint32_t shards) : shard_(shard), shards_(shards) {}

  std::string_view route(const log::record& r) override {
    return of_type(r, "account") && shard_of(r.aggregate_id, shards_) == shard_ ? r.aggregate_id : std::string_view{};
  }

  apply_result apply(const log::record& r, std::string_view key) override {
    auto& entry = row(rows_, key);
    if (!account::apply_event(entry.state, r.type, r.data))
      return false;
    entry.version = r.version;
    return true;
  }

  void render(std::string_view key, codec::json_writer& w) const override {
    auto& entry = rows_.find(key)->second;
    w.begin_object().key("account_id").string(key).key("owner").string(entry.state.owner);
    w.key("status").string(account::to_string(entry.state.status)).key("balance").money(entry.state.balance_cents);
    w.key("version").uinteger(entry.version).end_object();
  }

  uint64_t checkpoint_fingerprint() const override { return layout<account::state>("account_balance.rows.1"); }
  void save(std::string& out) const override { save_rows(rows_, out); }
  bool load(std::string_view in) override { return load_rows(in, rows_); }

 private:
  struct row_type {
    account::state state;
    uint64_t version = 0;
  };
  uint32_t shard_, shards_;
  string_map<row_type> rows_;
};

// SPEC §13: a transfer's recorded steps, shown as four states (a refund
// under way is still `debited`).
class transfer_status final : public projector {
 public:
  transfer_status(uint32_t shard, uint32_t shards) : shard_(shard), shards_(shards) {}

  std::string_view route(const log::record& r) override {
    return of_type(r, "transfer") && shard_of(r.aggregate_id, shards_) == shard_ ? r.aggregate_id : std::string_view{};
  }

  apply_result apply(const log::record& r, std::string_view key) override {
    auto& entry = row(rows_, key);
    if (!transfer::apply_event(entry.state, r.type, r.data))
      return false;
    entry.version = r.version;
    return true;
  }

  void render(std::string_view key, codec::json_writer& w) const override {
    auto& s = rows_.find(key)->second.state;
    w.begin_object().key("transfer_id").string(key).key("from").string(s.from).key("to").string(s.to);
    w.key("amount").money(s.amount_cents).key("status").string(shown(s.status)).key("reason");
    if (s.status == transfer::status::failed)
      w.string(s.reason);
    else
      w.null();
    w.end_object();
  }

  uint64_t checkpoint_fingerprint() const override { return layout<transfer::state>("transfer_status.rows.1"); }
  void save(std::string& out) const override { save_rows(rows_, out); }
  bool load(std::string_view in) override { return load_rows(in, rows_); }

 private:
  static std::string_view shown(transfer::status s) {
    switch (s) {
      case transfer::status::credit_rejected: return "debited";
      default: return transfer::to_string(s);
    }
  }

  struct row_type {
    transfer::state state;
    uint64_t version = 0;
  };
  uint32_t shard_, shards_;
  string_map<row_type> rows_;
};

} // namespace

std::unique_ptr<projector> make_transfer_status(uint32_t shard, uint32_t shards) {
  return std::make_unique<transfer_status>(shard, shards);
}

std::unique_ptr<projector> make_order_summary(uint32_t shard, uint32_t shards) {
  return std::make_unique<order_summary>(shard, shards);
}
std::unique_ptr<projector> make_customer_orders(uint32_t shard, uint32_t shards) {
  return std::make_unique<customer_orders>(shard, shards, 1);
}
std::unique_ptr<projector> make_customer_orders_v2(uint32_t shard, uint32_t shards) {
  return std::make_unique<customer_orders>(shard, shards, 2);
}
std::unique_ptr<projector> make_order_stats(uint32_t shard, uint32_t shards) {
  return std::make_unique<order_stats>(shard, shards);
}
std::unique_ptr<projector> make_account_balance(uint32_t shard, uint32_t shards) {
  return std::make_unique<account_balance>(shard, shards);
}

} // namespace sluice::views
