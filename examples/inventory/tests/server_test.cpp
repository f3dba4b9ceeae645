// The inventory domain served by the real sluice engine (actors, log,
// views), as `inventory serve` runs it, without sockets.
#include "domain/command_decoder.h"
#include "engine/engine.h"
#include "inventory.h"

#include <catch2/catch.hpp>

#include <filesystem>
#include <future>
#include <random>

namespace {

struct temp_dir {
  std::filesystem::path path =
      std::filesystem::temp_directory_path() / ("inventory-test-" + std::to_string(std::random_device{}()));
  temp_dir() { std::filesystem::create_directories(path); }
  ~temp_dir() { std::filesystem::remove_all(path); }
};

sluice::engine::command_result submit(sluice::engine::engine& e, const std::string& json) {
  sluice::domain::command_decoder decoder(e.model().types());
  auto cmd = decoder.decode(json);
  REQUIRE(cmd);
  std::promise<sluice::engine::command_result> done;
  e.submit(std::move(*cmd), [&](sluice::engine::command_result r) { done.set_value(std::move(r)); });
  return done.get_future().get();
}

std::string low_stock(sluice::engine::engine& e, const std::string& warehouse, uint64_t position) {
  std::promise<sluice::engine::view_read> got;
  REQUIRE(e.read_view("low_stock", warehouse, position, std::chrono::seconds(5),
                      [&](sluice::engine::view_read r) { got.set_value(std::move(r)); }));
  auto r = got.get_future().get();
  REQUIRE(r.status == sluice::engine::read_status::found);
  return *r.value;
}

} // namespace

TEST_CASE("the engine serves the inventory domain and keeps low_stock after a restart") {
  using sluice::domain::outcome;
  temp_dir dir;
  sluice::engine::options o;
  o.model = &inventory::model();
  o.data_dir = dir.path;
  o.durability = sluice::log::durability::none;
  o.threads = 2;
  uint64_t last = 0;
  {
    auto e = sluice::engine::start(o);
    REQUIRE(e);
    REQUIRE((*e)->wait_ready(std::chrono::seconds(30)));
    auto& eng = **e;
    REQUIRE(
        submit(
            eng,
            R"({"type":"stock.register","aggregate_id":"WH1-CABLE","payload":{"warehouse":"WH1","reorder_level":10}})")
            .outcome.result == outcome::kind::accepted);
    REQUIRE(submit(eng, R"({"type":"stock.receive","aggregate_id":"WH1-CABLE","payload":{"qty":12}})").outcome.result ==
            outcome::kind::accepted);
    auto r = submit(eng, R"({"type":"stock.reserve","aggregate_id":"WH1-CABLE","payload":{"qty":5}})");
    REQUIRE(r.outcome.result == outcome::kind::accepted);
    auto refused = submit(eng, R"({"type":"stock.ship","aggregate_id":"WH1-CABLE","payload":{"qty":6}})");
    CHECK(refused.outcome.result == outcome::kind::rejected);
    last = r.position;
    CHECK(low_stock(eng, "WH1", last) ==
          R"({"warehouse":"WH1","items":[{"stock_id":"WH1-CABLE","available":7,"reorder_level":10}]})");
    eng.stop();
  }
  // Restarted: the aggregate and the view are rebuilt from the log.
  auto e = sluice::engine::start(o);
  REQUIRE(e);
  REQUIRE((*e)->wait_ready(std::chrono::seconds(30)));
  CHECK(low_stock(**e, "WH1", last) ==
        R"({"warehouse":"WH1","items":[{"stock_id":"WH1-CABLE","available":7,"reorder_level":10}]})");
  auto again = submit(**e, R"({"type":"stock.reserve","aggregate_id":"WH1-CABLE","payload":{"qty":8}})");
  CHECK(again.outcome.result == sluice::domain::outcome::kind::rejected); // 7 available
}
