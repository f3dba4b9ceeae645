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
    std::vector<std::pair<std::string_view, uint64_t>> entries;
    for (int i = 0; i < 1000; ++i) {
      auto& id = ids[static_cast<size_t>((i * 31 + group) % 97)];
      entries.emplace_back(id, ++position);
      single.add(id, position);
      want[id].push_back(position);
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
      {types[0], "X", 1}, {types[1], "X", 2}, {types[0], "X", 3}, {types[1], "Y", 4}};
  index.add(events);
  size_t total = 0;
  CHECK(index.of(types[0]).positions("X", 0, 10, total) == std::vector<uint64_t>{1, 3});
  CHECK(index.of(types[1]).positions("X", 0, 10, total) == std::vector<uint64_t>{2});
  CHECK(index.of(types[1]).positions("Y", 0, 10, total) == std::vector<uint64_t>{4});
  CHECK(index.of(types[0]).positions("Y", 0, 10, total).empty());
  CHECK(total == 0);
}
