// View versions (SPEC §10): a newer version builds beside the serving one
// and takes over in one step once caught up; a view new in a build answers
// `building` until then; a rebuild swaps the same way; readers never see a
// position go back across a swap, and subscribers get a rebuilt snapshot.
#include "engine/engine.h"

#include "engine_fixture.h"
#include "tally_domain.h"
#include "temp_dir.h"
#include "view_compare.h"

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <fstream>
#include <thread>

using namespace sluice;
using sluice::testing::send_json;
using sluice::testing::temp_dir;
using namespace std::chrono_literals;
namespace tally = sluice::testing::tally;

namespace {

const domain::model& v1_model() { return tally::model(); }

const domain::model& v1_v2_model() {
  static const domain::model m =
      *domain::model::make({&tally::type()}, {tally::tallies_view(), tally::tallies_v2_view()});
  return m;
}

const domain::model& no_view_model() {
  static const domain::model m = *domain::model::make({&tally::type()}, {});
  return m;
}

const domain::model& v2_only_model() {
  static const domain::model m = *domain::model::make({&tally::type()}, {tally::tallies_v2_view()});
  return m;
}

engine::options options(const std::filesystem::path& dir, const domain::model& m, uint32_t shards = 1) {
  engine::options o;
  o.model = &m;
  o.data_dir = dir;
  o.durability = log::durability::none;
  o.threads = 3; // a held build blocks one
  o.shards = shards;
  return o;
}

// `n` tallies, each opened and added to `adds` times.
void fill(engine::engine& e, int n, int adds, std::string_view tag = "T") {
  for (int i = 0; i < n; ++i) {
    auto id = fmt::format("{}-{}", tag, i);
    REQUIRE(
        send_json(e, fmt::format(R"({{"type":"tally.open","aggregate_id":"{}","payload":{{"limit":1000000}}}})", id))
            .outcome.result == domain::outcome::kind::accepted);
    for (int k = 0; k < adds; ++k)
      REQUIRE(send_json(e, fmt::format(R"({{"type":"tally.add","aggregate_id":"{}","payload":{{"n":{}}}}})", id, k + 1))
                  .outcome.result == domain::outcome::kind::accepted);
  }
}

engine::view_read read(engine::engine& e, engine::view_ref v, const std::string& key, uint64_t min = 0) {
  std::promise<engine::view_read> p;
  auto f = p.get_future();
  REQUIRE(e.read_view(v, key, min, 5s, [&p](engine::view_read r) { p.set_value(std::move(r)); }));
  return f.get();
}

bool wait_serving(engine::engine& e, engine::view_ref v, std::chrono::milliseconds limit = 30s) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (e.state_of(v) != engine::view_state::serving) {
    if (std::chrono::steady_clock::now() > deadline)
      return false;
    std::this_thread::sleep_for(2ms);
  }
  return true;
}

std::string state_of_version(engine::engine& e, uint32_t version) {
  for (auto& s : e.view_statuses())
    if (s.view == "tallies" && s.version == version)
      return std::string(s.state);
  return "undefined";
}

struct release_on_exit {
  ~release_on_exit() { tally::hold_v2() = false; }
};

} // namespace

TEST_CASE("a newer version builds while the older serves, then takes over in one step", "[views][versions]") {
  temp_dir dir;
  {
    auto e = sluice::testing::start_engine(options(dir.path(), v1_model()));
    fill(*e, 20, 3);
    sluice::testing::await_views(*e);
  }
  tally::hold_v2() = true;
  auto e = sluice::testing::start_engine(options(dir.path(), v1_v2_model()));
  release_on_exit release; // before the engine stops: a held build would hold its stop

  // Version 1 serves what it served before; version 2 builds.
  auto r = read(*e, "tallies", "T-3");
  REQUIRE(r.status == engine::read_status::found);
  CHECK(r.value->find("mean") == std::string::npos);
  CHECK(e->state_of({"tallies", 2}) == engine::view_state::building);
  CHECK(read(*e, {"tallies", 2}, "T-3").status == engine::read_status::building);
  CHECK(state_of_version(*e, 1) == "serving");
  CHECK(state_of_version(*e, 2) == "building");
  uint32_t version = 0;
  CHECK(e->rebuild_view("tallies", version) == engine::rebuild_status::running);
  CHECK(e->rebuild_view("nope", version) == engine::rebuild_status::unknown_view);

  // Commands are not held back by the build.
  fill(*e, 5, 1, "U");
  CHECK(read(*e, "tallies", "U-4", e->log().last_position()).status == engine::read_status::found);

  tally::hold_v2() = false;
  REQUIRE(wait_serving(*e, {"tallies", 2}));
  auto after = read(*e, "tallies", "T-3");
  REQUIRE(after.status == engine::read_status::found);
  CHECK(*after.value == R"({"tally_id":"T-3","total":6,"adds":3,"mean":2})");
  CHECK(after.position >= r.position);
  CHECK(read(*e, "tallies", "U-4").status == engine::read_status::found); // live events after the build's start
  bool known = e->read_view({"tallies", 1}, "T-3", 0, 1s, [](engine::view_read) {});
  CHECK_FALSE(known); // retired
  CHECK(state_of_version(*e, 1) == "retired");
  CHECK(sluice::testing::served(*e, "tallies") == sluice::testing::recompute(e->log(), "tallies", v1_v2_model()));
  e.reset();

  // The next start serves version 2 at once: nothing builds.
  auto again = sluice::testing::start_engine(options(dir.path(), v1_v2_model()));
  CHECK(again->state_of("tallies") == engine::view_state::serving);
  CHECK(state_of_version(*again, 2) == "serving");
  CHECK(read(*again, "tallies", "T-3").value->find("mean") != std::string::npos);
}

TEST_CASE("a view new in the build answers building until it has caught up", "[views][versions]") {
  temp_dir dir;
  {
    auto e = sluice::testing::start_engine(options(dir.path(), no_view_model()));
    fill(*e, 10, 2);
  }
  tally::hold_v2() = true;
  auto e = sluice::testing::start_engine(options(dir.path(), v2_only_model()));
  release_on_exit release;
  CHECK(e->state_of("tallies") == engine::view_state::building);
  CHECK(read(*e, "tallies", "T-1").status == engine::read_status::building);
  std::promise<engine::view_page> page;
  REQUIRE(e->list_view("tallies", "", 10, [&](engine::view_page p) { page.set_value(std::move(p)); }));
  CHECK(page.get_future().get().building);
  CHECK(e->subscribe_view("tallies", "T-1", [] {}) == nullptr);
  // A read that waits for a position is answered once the build is there.
  uint64_t end = e->log().last_position();
  std::promise<engine::view_read> waited;
  REQUIRE(e->read_view("tallies", "T-1", end, 10s, [&](engine::view_read r) { waited.set_value(std::move(r)); }));
  tally::hold_v2() = false;
  auto w = waited.get_future().get();
  CHECK(w.status == engine::read_status::found);
  CHECK(w.position >= end);
  REQUIRE(wait_serving(*e, "tallies"));
  CHECK(sluice::testing::served(*e, "tallies") == sluice::testing::recompute(e->log(), "tallies", v2_only_model()));
}

TEST_CASE("a rebuild swaps under readers whose position never goes back", "[views][versions]") {
  temp_dir dir;
  auto e = sluice::testing::start_engine(options(dir.path(), v1_model(), 2));
  fill(*e, 50, 4);
  std::atomic<bool> stop{false};
  std::atomic<int> backwards{0}, reads{0};
  std::thread reader([&] {
    uint64_t last = 0;
    while (!stop.load()) {
      auto r = read(*e, "tallies", "T-7");
      if (r.position < last)
        ++backwards;
      last = std::max(last, r.position);
      ++reads;
    }
  });
  std::thread writer([&] {
    for (int i = 0; !stop.load(); ++i)
      send_json(*e, fmt::format(R"({{"type":"tally.add","aggregate_id":"T-{}","payload":{{"n":1}}}})", i % 50));
  });
  for (int round = 0; round < 5; ++round) {
    uint32_t version = 0;
    REQUIRE(e->rebuild_view("tallies", version) == engine::rebuild_status::started);
    CHECK(version == 1);
    auto deadline = std::chrono::steady_clock::now() + 30s;
    for (;;) {
      auto st = e->view_statuses();
      REQUIRE(st.size() == 1);
      if (!st[0].build)
        break;
      REQUIRE(std::chrono::steady_clock::now() < deadline);
      std::this_thread::sleep_for(1ms);
    }
  }
  stop = true;
  reader.join();
  writer.join();
  CHECK(backwards.load() == 0);
  CHECK(reads.load() > 0);
  auto m = e->snapshot();
  REQUIRE(m.views.size() == 1);
  CHECK(m.views[0].rebuilds == 5);
  sluice::testing::await_views(*e);
  CHECK(sluice::testing::served(*e, "tallies") == sluice::testing::recompute(e->log(), "tallies", v1_model()));
}

TEST_CASE("subscribers get a rebuilt snapshot after a swap, then every change", "[views][versions]") {
  temp_dir dir;
  auto e = sluice::testing::start_engine(options(dir.path(), v1_model(), 2));
  fill(*e, 4, 1);
  std::atomic<int> wakes{0};
  auto one = e->subscribe_view("tallies", "T-1", [&] { ++wakes; });
  auto all = e->subscribe_view("tallies", "*", [&] { ++wakes; });
  REQUIRE(one);
  REQUIRE(all);
  std::vector<engine::feed_item> got_one, got_all;
  auto drain_until = [&](const std::shared_ptr<engine::view_feed>& f, std::vector<engine::feed_item>& out,
                         auto&& done) {
    auto deadline = std::chrono::steady_clock::now() + 10s;
    while (!done()) {
      REQUIRE(std::chrono::steady_clock::now() < deadline);
      f->take(out, 1000);
      std::this_thread::sleep_for(1ms);
    }
  };
  auto count = [](const std::vector<engine::feed_item>& items, engine::item_kind k) {
    return std::count_if(items.begin(), items.end(), [&](auto& i) { return i.kind == k; });
  };
  drain_until(one, got_one, [&] { return count(got_one, engine::item_kind::snapshot) == 1; });
  drain_until(all, got_all, [&] { return count(got_all, engine::item_kind::snapshot) == 4; });

  uint32_t version = 0;
  REQUIRE(e->rebuild_view("tallies", version) == engine::rebuild_status::started);
  drain_until(one, got_one, [&] { return count(got_one, engine::item_kind::rebuilt) == 1; });
  drain_until(all, got_all, [&] { return count(got_all, engine::item_kind::rebuilt) == 4; });
  CHECK(got_one.back().key == "T-1");
  CHECK(*got_one.back().value == R"({"tally_id":"T-1","total":1,"adds":1})");

  // Changes of the new version follow.
  REQUIRE(send_json(*e, R"({"type":"tally.add","aggregate_id":"T-1","payload":{"n":5}})").outcome.result ==
          domain::outcome::kind::accepted);
  drain_until(one, got_one, [&] { return count(got_one, engine::item_kind::change) == 1; });
  CHECK(*got_one.back().value == R"({"tally_id":"T-1","total":6,"adds":2})");
  one->close();
  all->close();
}

TEST_CASE("a build cut off by a stop starts again; the older version serves meanwhile", "[views][versions]") {
  temp_dir dir;
  {
    auto e = sluice::testing::start_engine(options(dir.path(), v1_model()));
    fill(*e, 10, 2);
  }
  {
    tally::hold_v2() = true; // the build cannot get past its first event
    auto e = sluice::testing::start_engine(options(dir.path(), v1_v2_model()));
    release_on_exit release;
    CHECK(e->state_of({"tallies", 2}) == engine::view_state::building);
    std::thread let_go([] {
      std::this_thread::sleep_for(300ms);
      tally::hold_v2() = false;
    });
    e->stop();
    let_go.join();
  }
  std::ifstream serving(dir.path() / "views" / "serving");
  std::string name;
  uint32_t version = 0;
  serving >> name >> version;
  CHECK(name == "tallies");
  CHECK(version == 1);
  tally::hold_v2() = true;
  auto e = sluice::testing::start_engine(options(dir.path(), v1_v2_model()));
  release_on_exit release;
  CHECK(state_of_version(*e, 1) == "serving");
  CHECK(state_of_version(*e, 2) == "building");
  tally::hold_v2() = false;
  REQUIRE(wait_serving(*e, {"tallies", 2}));
  CHECK(sluice::testing::served(*e, "tallies") == sluice::testing::recompute(e->log(), "tallies", v1_v2_model()));
}
