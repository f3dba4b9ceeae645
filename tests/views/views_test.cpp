#include "builtin/builtin.h"
#include "views/order_row.h"
#include "views/view_shard.h"

#include "domain/aggregate.h"
#include "domain/command_decoder.h"

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <map>
#include <random>

using namespace sluice;
using namespace sluice::views;

namespace {

// Decides commands with the real aggregates and collects the events with positions.
class world {
 public:
  void run(const std::string& json) { REQUIRE(try_run(json)); }

  event_batch take() { return std::exchange(batch_, event_batch{}); }

  /// Like run(), for commands the rules may reject; true if accepted.
  bool try_run(const std::string& json) {
    auto cmd = decoder_.decode(json);
    REQUIRE(cmd);
    std::string id(cmd->aggregate_id);
    auto& a = aggregates_.try_emplace(id, *cmd->type, id).first->second;
    domain::event_list events;
    auto o = a.handle(*cmd, events);
    if (o.result != domain::outcome::kind::accepted)
      return false;
    auto version = o.version - events.size();
    for (auto& e : events)
      batch_.add(
          {++position_, ++version, 0, e.type, cmd->aggregate_id.view(), cmd->command_id.view(), e.data, e.schema});
    return true;
  }

 private:
  domain::command_decoder decoder_{builtin::model().types()};
  std::map<std::string, domain::aggregate> aggregates_;
  event_batch batch_;
  uint64_t position_ = 0;
};

std::string cmd(std::string_view type, std::string_view id, std::string_view payload) {
  return fmt::format(R"({{"type":"{}","aggregate_id":"{}","payload":{}}})", type, id, payload);
}

// All shards of one view, as the engine runs them.
struct sharded_view {
  std::vector<view_shard> shards;

  sharded_view(std::string_view name, uint32_t n) {
    for (auto* def : builtin::model().served_views())
      if (def->name == name)
        for (uint32_t i = 0; i < n; ++i)
          shards.emplace_back(def->make(i, n));
    REQUIRE(shards.size() == n);
  }

  std::vector<view_change> apply(const event_batch& b) {
    std::vector<view_change> changes;
    for (auto& s : shards)
      s.apply(b, changes);
    return changes;
  }

  std::string value(std::string_view key) {
    for (auto& s : shards)
      if (auto e = s.find(key))
        return *e->value;
    return "";
  }

  uint64_t changed_at(std::string_view key) {
    for (auto& s : shards)
      if (auto e = s.find(key))
        return e->changed_at;
    return 0;
  }
};

} // namespace

TEST_CASE("order views follow orders through their life", "[views]") {
  auto shards = GENERATE(1u, 3u);
  world w;
  w.run(cmd("order.create", "ORD-1", R"({"customer_id":"C-1"})"));
  w.run(cmd("order.create", "ORD-2", R"({"customer_id":"C-1"})"));
  w.run(cmd("order.create", "ORD-3", R"({"customer_id":"C-2"})"));
  w.run(cmd("order.add_item", "ORD-1", R"({"product":"Laptop","qty":1,"price":999.99})"));
  w.run(cmd("order.add_item", "ORD-1", R"({"product":"Mouse","qty":2,"price":29.99})"));
  w.run(cmd("order.add_item", "ORD-2", R"({"product":"Cable","qty":3,"price":5})"));
  w.run(cmd("order.confirm", "ORD-1", "{}"));
  auto first = w.take();
  w.run(cmd("order.confirm", "ORD-2", "{}"));
  w.run(cmd("order.cancel", "ORD-2", R"({"reason":"late"})"));
  auto second = w.take();

  sharded_view summary("order_summary", shards), customers("customer_orders", shards), stats("order_stats", shards);
  for (auto* v : {&summary, &customers, &stats}) {
    v->apply(first);
    v->apply(second);
  }

  CHECK(summary.value("ORD-1") == R"({"order_id":"ORD-1","customer_id":"C-1","status":"confirmed",)"
                                  R"("item_count":3,"total":1059.97,"skus":["LAPTOP","MOUSE"],"version":4})");
  CHECK(summary.value("ORD-2") == R"({"order_id":"ORD-2","customer_id":"C-1","status":"cancelled",)"
                                  R"("item_count":3,"total":15.00,"skus":["CABLE"],"version":4})");
  CHECK(summary.changed_at("ORD-1") == 7);
  CHECK(summary.changed_at("ORD-3") == 3);
  CHECK(customers.value("C-1") == R"({"customer_id":"C-1","order_count":2,"total_spent":1059.97,"orders":[)"
                                  R"({"order_id":"ORD-1","status":"confirmed","item_count":3,"total":1059.97},)"
                                  R"({"order_id":"ORD-2","status":"cancelled","item_count":3,"total":15.00}]})");
  CHECK(customers.changed_at("C-1") == 9);
  CHECK(
      customers.value("C-2") ==
      R"({"customer_id":"C-2","order_count":1,"total_spent":0.00,"orders":[{"order_id":"ORD-3","status":"pending","item_count":0,"total":0.00}]})");
  // ORD-2 was confirmed then cancelled: its revenue is taken out again.
  CHECK(stats.value("all") == R"({"orders_created":3,"orders_confirmed":2,"orders_cancelled":1,)"
                              R"("items_added":6,"revenue_confirmed":1059.97})");
  CHECK(summary.value("ORD-9").empty());
}

TEST_CASE("the account view follows deposits and withdrawals", "[views]") {
  world w;
  w.run(cmd("account.open", "ACC-1", R"({"owner":"Ada"})"));
  w.run(cmd("account.deposit", "ACC-1", R"({"amount":100})"));
  w.run(cmd("account.withdraw", "ACC-1", R"({"amount":99.5})"));
  sharded_view balance("account_balance", 2);
  balance.apply(w.take());
  CHECK(balance.value("ACC-1") == R"({"account_id":"ACC-1","owner":"Ada","status":"open","balance":0.50,"version":3})");
}

TEST_CASE("a batch yields one change per key with the last position that changed it", "[views]") {
  world w;
  w.run(cmd("order.create", "ORD-1", R"({"customer_id":"C"})"));
  w.run(cmd("order.add_item", "ORD-1", R"({"product":"A","qty":1,"price":1})"));
  w.run(cmd("order.create", "ORD-2", R"({"customer_id":"C"})"));
  sharded_view summary("order_summary", 1);
  auto changes = summary.apply(w.take());
  REQUIRE(changes.size() == 2);
  CHECK(changes[0].key == "ORD-1");
  CHECK(changes[0].position == 2);
  CHECK(*summary.shards[0].render(changes[0].key) == summary.value("ORD-1"));
  CHECK(changes[1].key == "ORD-2");
  CHECK(changes[1].position == 3);
  CHECK(summary.shards[0].applied() == 3);
  // A later batch that changes ORD-2 twice reports it once, at its last position.
  w.run(cmd("order.add_item", "ORD-2", R"({"product":"B","qty":1,"price":2})"));
  w.run(cmd("order.confirm", "ORD-2", "{}"));
  changes = summary.apply(w.take());
  REQUIRE(changes.size() == 1);
  CHECK(changes[0].key == "ORD-2");
  CHECK(changes[0].position == 5);
  CHECK(summary.value("ORD-2").find(R"("status":"confirmed")") != std::string::npos);
}

TEST_CASE("events at or below the applied position are not applied twice", "[views]") {
  world w;
  w.run(cmd("order.create", "ORD-1", R"({"customer_id":"C"})"));
  w.run(cmd("order.add_item", "ORD-1", R"({"product":"A","qty":1,"price":1})"));
  auto batch = w.take();
  sharded_view stats("order_stats", 1);
  stats.apply(batch);
  CHECK(stats.apply(batch).empty());
  CHECK(stats.value("all") == R"({"orders_created":1,"orders_confirmed":0,"orders_cancelled":0,)"
                              R"("items_added":1,"revenue_confirmed":0.00})");
}

TEST_CASE("keys list in byte order after a key, at most a limit", "[views]") {
  world w;
  for (auto id : {"b", "a", "c", "ab", "B"})
    w.run(cmd("order.create", id, R"({"customer_id":"C"})"));
  sharded_view summary("order_summary", 1);
  summary.apply(w.take());
  std::vector<std::pair<std::string, view_shard::entry>> out;
  summary.shards[0].list("", 3, out);
  REQUIRE(out.size() == 3);
  CHECK(out[0].first == "B");
  CHECK(out[1].first == "a");
  CHECK(out[2].first == "ab");
  out.clear();
  summary.shards[0].list("ab", 10, out);
  REQUIRE(out.size() == 2);
  CHECK(out[0].first == "b");
  CHECK(out[1].first == "c");
}

TEST_CASE("every key lives in exactly one shard", "[views]") {
  world w;
  for (int i = 0; i < 200; ++i)
    w.run(cmd("order.create", fmt::format("ORD-{}", i), fmt::format(R"({{"customer_id":"C-{}"}})", i % 17)));
  auto batch = w.take();
  for (auto name : {"order_summary", "customer_orders"}) {
    sharded_view v(name, 4);
    v.apply(batch);
    size_t total = 0;
    for (auto& s : v.shards) {
      total += s.size();
      CHECK(s.size() > 0); // the hash spreads keys
    }
    CHECK(total == (std::string_view(name) == "order_summary" ? 200u : 17u));
  }
}

TEST_CASE("a listing stays in byte order as keys arrive between listings", "[views]") {
  world w;
  sharded_view balance("account_balance", 1);
  auto& shard = balance.shards[0];
  auto keys = [&](std::string_view after, size_t limit) {
    std::vector<std::pair<std::string, view_shard::entry>> out;
    shard.list(after, limit, out);
    std::vector<std::string> k;
    for (auto& [key, e] : out)
      k.push_back(key);
    return k;
  };
  for (auto id : {"ACC-5", "ACC-1", "ACC-9"})
    w.run(cmd("account.open", id, R"({"owner":"o"})"));
  balance.apply(w.take());
  CHECK(keys("", 10) == std::vector<std::string>{"ACC-1", "ACC-5", "ACC-9"});
  for (auto id : {"ACC-7", "ACC-0", "ACC-3"})
    w.run(cmd("account.open", id, R"({"owner":"o"})"));
  w.run(cmd("account.deposit", "ACC-5", R"({"amount":1})"));
  balance.apply(w.take());
  CHECK(keys("", 10) == std::vector<std::string>{"ACC-0", "ACC-1", "ACC-3", "ACC-5", "ACC-7", "ACC-9"});
  CHECK(keys("ACC-3", 2) == std::vector<std::string>{"ACC-5", "ACC-7"});
  CHECK(keys("ACC-9", 2).empty());
  CHECK(shard.size() == 6);
}

namespace {

void check_same(const domain::order::state& want, const domain::order::state& got) {
  CHECK(got.status == want.status);
  CHECK(got.customer_id == want.customer_id);
  CHECK(got.item_count == want.item_count);
  CHECK(got.total_cents == want.total_cents);
  REQUIRE(got.lines.size() == want.lines.size());
  for (size_t i = 0; i < want.lines.size(); ++i) {
    CHECK(got.lines[i].product == want.lines[i].product);
    CHECK(got.lines[i].sku == want.lines[i].sku);
    CHECK(got.lines[i].qty == want.lines[i].qty);
    CHECK(got.lines[i].price_cents == want.lines[i].price_cents);
  }
}

} // namespace

// The order views keep orders packed (order_row); the aggregate's own
// evolve() is what they must agree with, event by event.
TEST_CASE("a packed order row follows the order's state through random histories", "[views]") {
  std::mt19937_64 rng(GENERATE(1u, 2u, 3u, 4u));
  const char* products[] = {"P0", "P1", "Office chair with a name longer than forty bytes", "P3"};
  world w;
  for (int order = 0; order < 50; ++order) {
    auto id = fmt::format("ORD-{}", order);
    REQUIRE(w.try_run(cmd("order.create", id, fmt::format(R"({{"customer_id":"C-{}"}})", rng() % 7))));
    for (int step = 0; step < 12; ++step) {
      auto product = products[rng() % 4];
      switch (rng() % 8) {
        case 0: w.try_run(cmd("order.remove_item", id, fmt::format(R"({{"product":"{}"}})", product))); break;
        case 1: w.try_run(cmd("order.confirm", id, "{}")); break;
        case 2:
          if (rng() % 3 == 0)
            w.try_run(cmd("order.cancel", id, "{}"));
          break;
        default:
          w.try_run(cmd("order.add_item", id,
                        fmt::format(R"({{"product":"{}","qty":{},"price":{}.{:02}{}}})", product, 1 + rng() % 5,
                                    rng() % 500, rng() % 100, rng() % 2 ? R"(,"sku":"S-X")" : "")));
      }
    }
  }
  auto batch = w.take();
  std::map<std::string, std::pair<domain::order::state, order_row>, std::less<>> orders;
  for (size_t i = 0; i < batch.size(); ++i) {
    auto r = batch[i];
    auto& [want, row] = orders[std::string(r.aggregate_id)];
    REQUIRE(domain::order::apply_event(want, r.type, r.data));
    REQUIRE(row.apply(r.type, r.data));
    check_same(want, row.unpack());
    CHECK(row.status() == want.status);
    CHECK(row.total_cents() == want.total_cents);
    std::vector<std::string> skus;
    row.for_each_sku([&](std::string_view sku) { skus.emplace_back(sku); });
    REQUIRE(skus.size() == want.lines.size());
    for (size_t l = 0; l < skus.size(); ++l)
      CHECK(skus[l] == want.lines[l].sku);
    order_row copy;
    REQUIRE(copy.assign(row.bytes()));
    CHECK(copy.bytes() == row.bytes());
  }
  CHECK(orders.size() == 50);
  size_t with_lines = 0;
  for (auto& [id, o] : orders)
    with_lines += o.first.lines.size() > 1;
  CHECK(with_lines > 10); // the histories did reprice and remove lines, not only create
  CHECK_FALSE(order_row{}.apply("order.shipped", ""));
  CHECK_FALSE(order_row{}.apply("order.item_added", "\x05"));
}

TEST_CASE("a packed order row refuses bytes that are not a whole row", "[views]") {
  world w;
  w.run(cmd("order.create", "ORD-1", R"({"customer_id":"C-1"})"));
  w.run(cmd("order.add_item", "ORD-1", R"({"product":"Laptop","qty":1,"price":999.99})"));
  w.run(cmd("order.add_item", "ORD-1", R"({"product":"Mouse","qty":2,"price":29.99})"));
  auto batch = w.take();
  order_row row;
  for (size_t i = 0; i < batch.size(); ++i)
    REQUIRE(row.apply(batch[i].type, batch[i].data));
  std::string bytes(row.bytes());
  for (size_t n = 1; n < bytes.size(); ++n) {
    order_row cut;
    CHECK_FALSE(cut.assign(std::string_view(bytes).substr(0, n)));
    CHECK(cut.bytes().empty());
  }
  auto bad_status = bytes;
  bad_status[0] = 9;
  CHECK_FALSE(order_row{}.assign(bad_status));
  CHECK_FALSE(order_row{}.assign(bytes + "x"));
  order_row whole;
  REQUIRE(whole.assign(bytes));
  CHECK(whole.item_count() == 3);
  CHECK(whole.total_cents() == 105997);
  CHECK(whole.customer_id() == "C-1");
}

TEST_CASE("an event batch says when a record would not fit, instead of throwing", "[views]") {
  views::event_batch b;
  std::string data(100, 'x');
  log::record small{1, 1, 0, "order.created", "ORD-1", "", data, 1};
  CHECK(b.fits(small));
  b.add(small);
  // Only the lengths are looked at: a view of 4 GiB that is never read.
  log::record huge{2, 2, 0, "order.created", "ORD-1", "", std::string_view(data.data(), UINT32_MAX), 1};
  CHECK_FALSE(b.fits(huge));
  CHECK(b.size() == 1);
  CHECK(b[0].data == data);
}
