#include "low_stock.h"

#include "stock.h"

#include <map>
#include <set>
#include <string>

namespace inventory {

namespace {

// Sharded by warehouse: every item of a warehouse is in one shard, so a
// warehouse's list is whole. The shard keeps each item's stock state to
// know, after an event, whether the item is low.
class low_stock final : public sluice::views::projector {
 public:
  low_stock(uint32_t shard, uint32_t shards) : shard_(shard), shards_(shards) {}

  // Only registration names the warehouse; it is each item's first event.
  std::string_view route(const sluice::log::record& r) override {
    if (!r.type.starts_with("stock."))
      return {};
    auto it = warehouse_of_.find(r.aggregate_id);
    if (it == warehouse_of_.end()) {
      stock::state s;
      if (!stock::apply_event(s, r.type, r.data) || !s.registered ||
          sluice::views::shard_of(s.warehouse, shards_) != shard_)
        return {};
      it = warehouse_of_.emplace(std::string(r.aggregate_id), s.warehouse).first;
    }
    return it->second;
  }

  sluice::views::apply_result apply(const sluice::log::record& r, std::string_view warehouse) override {
    auto it = items_.find(r.aggregate_id);
    if (it == items_.end())
      it = items_.emplace(std::string(r.aggregate_id), stock::state{}).first;
    if (!stock::apply_event(it->second, r.type, r.data))
      return false;
    auto& s = it->second;
    auto& low = warehouses_[std::string(warehouse)];
    bool was = low.contains(it->first);
    bool is = s.available() < s.reorder_level;
    if (is)
      low.insert(it->first);
    else
      low.erase(it->first);
    return was != is || is; // a low item's figure may have moved
  }

  void render(std::string_view key, sluice::codec::json_writer& w) const override {
    w.begin_object().key("warehouse").string(key).key("items").begin_array();
    if (auto wh = warehouses_.find(key); wh != warehouses_.end()) {
      for (auto& id : wh->second) {
        auto& s = items_.find(id)->second;
        w.begin_object().key("stock_id").string(id).key("available").integer(s.available());
        w.key("reorder_level").integer(s.reorder_level).end_object();
      }
    }
    w.end_array().end_object();
  }

 private:
  uint32_t shard_, shards_;
  std::map<std::string, std::string, std::less<>> warehouse_of_; // routing: item → warehouse
  std::map<std::string, stock::state, std::less<>> items_;
  std::map<std::string, std::set<std::string>, std::less<>> warehouses_;
};

} // namespace

std::unique_ptr<sluice::views::projector> make_low_stock(uint32_t shard, uint32_t shards) {
  return std::make_unique<low_stock>(shard, shards);
}

} // namespace inventory
