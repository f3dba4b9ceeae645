#include "builtin/builtin.h"
#include "engine/aggregate_index.h"

#include "domain/registry.h"

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <map>

using namespace sluice;

TEST_CASE("aggregate index: a group added at once equals the events added one by one", "[engine]") {
  // 3,000 events over 97 ids: every shard, several events per id per group.
  std::vector<std::string> ids;
  for (int i = 0; i < 97; ++i)
    ids.push_back(fmt::format("id-{}", i));
  engine::aggregate_index grouped, single;
  std::map<std::string, std::vector<uint64_t>> want;
  uint64_t position = 0;
  for (int group = 0; group < 3; ++group) {
    std::vector<engine::aggregate_index::indexed> entries;
    for (int i = 0; i < 1000; ++i) {
      auto& id = ids[static_cast<size_t>((i * 31 + group) % 97)];
      want[id].push_back(++position);
      entries.push_back({id, position, want[id].size()});
      single.add(id, position, want[id].size());
    }
    grouped.add(entries);
  }
  for (auto& [id, positions] : want) {
    size_t total = 0, total_single = 0;
    CHECK(grouped.positions(id, 0, 10'000, total) == positions);
    CHECK(total == positions.size());
    CHECK(single.positions(id, 0, 10'000, total_single) == positions);
    CHECK(grouped.positions(id, 2, 3, total) == std::vector<uint64_t>(positions.begin() + 2, positions.begin() + 5));
  }
}

TEST_CASE("history index: types keep their own positions for a shared id", "[engine]") {
  auto types = builtin::model().types().types();
  REQUIRE(types.size() >= 2);
  engine::history_index index(types);
  std::vector<engine::history_index::indexed_event> events = {
      {types[0], "X", 1, 1}, {types[1], "X", 2, 1}, {types[0], "X", 3, 2}, {types[1], "Y", 4, 1}};
  index.add(events);
  size_t total = 0;
  CHECK(index.of(types[0]).positions("X", 0, 10, total) == std::vector<uint64_t>{1, 3});
  CHECK(index.of(types[1]).positions("X", 0, 10, total) == std::vector<uint64_t>{2});
  CHECK(index.of(types[1]).positions("Y", 0, 10, total) == std::vector<uint64_t>{4});
  CHECK(index.of(types[0]).positions("Y", 0, 10, total).empty());
  CHECK(total == 0);
}

TEST_CASE("aggregate index: a checkpoint holds the positions up to its position, and loads back", "[engine]") {
  engine::aggregate_index index;
  index.add("A", 1, 1);
  index.add("B", 2, 1);
  index.add("A", 3, 2);
  index.add("C", 9, 1); // after the checkpoint's position: left out
  index.add("A", 10, 3);
  index.set_snapshot("A", {77, 2});
  std::string body;
  index.save(body, 5);

  engine::aggregate_index loaded;
  loaded.set_snapshot("A", {77, 2}); // snapshots come from the snapshot files, before the checkpoint
  REQUIRE(loaded.load(body));
  size_t total = 0;
  CHECK(loaded.positions("A", 0, 10, total) == std::vector<uint64_t>{1, 3});
  CHECK(loaded.positions("B", 0, 10, total) == std::vector<uint64_t>{2});
  CHECK(loaded.positions("C", 0, 10, total).empty());
  CHECK(loaded.history_of("A").snapshot.ref == 77);
  CHECK(loaded.size() == 2);
  // The tail after the checkpoint goes on where it left off.
  loaded.add("A", 10, 3);
  CHECK(loaded.position("A", 3) == 10);

  // Every cut of the body is refused (a damaged file fails its checksum
  // first; this is the decoder's own guard).
  for (size_t n = 0; n < body.size(); ++n) {
    engine::aggregate_index partial;
    CHECK_FALSE(partial.load(std::string_view(body).substr(0, n)));
  }
}

TEST_CASE("aggregate index: retention forgets positions and counts them as dropped", "[engine]") {
  engine::aggregate_index index;
  for (uint64_t v = 1; v <= 5; ++v)
    index.add("A", v * 10, v); // positions 10..50
  index.add("B", 15, 1);
  CHECK(index.forget_before(31) == 4); // A: 10, 20, 30; B: 15
  size_t total = 0, dropped = 0;
  CHECK(index.positions("A", 0, 10, total, &dropped) == std::vector<uint64_t>{40, 50});
  CHECK(total == 5);
  CHECK(dropped == 3);
  CHECK(index.positions("A", 3, 10, total) == std::vector<uint64_t>{40, 50}); // from version 4
  CHECK(index.positions("A", 4, 10, total) == std::vector<uint64_t>{50});
  CHECK(index.position("A", 4) == 40);
  CHECK(index.position("A", 3) == 0); // deleted
  CHECK(index.history_of("A").dropped == 3);
  CHECK(index.positions("B", 0, 10, total, &dropped).empty());
  CHECK(dropped == 1);
  CHECK(index.size() == 2); // B is still known (its snapshot holds it)

  // Rebuilt from a log that starts later: the first event's version says
  // how many came before.
  engine::aggregate_index rebuilt;
  rebuilt.add("A", 40, 4);
  rebuilt.add("A", 50, 5);
  CHECK(rebuilt.history_of("A").dropped == 3);
  CHECK(rebuilt.position("A", 5) == 50);
}
