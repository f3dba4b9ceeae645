// View and history index checkpoints (SPEC §9): start-up loads them and
// replays only the log after them, and what it serves then equals a
// recomputation from the whole log; a checkpoint that is damaged, of another
// layout or past the log is refused, counted, and the log used instead.
#include "builtin/builtin.h"
#include "engine/engine.h"

#include "engine_fixture.h"
#include "log/checkpoint_file.h"
#include "temp_dir.h"
#include "view_compare.h"

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <fstream>
#include <iterator>

using namespace sluice;
using sluice::testing::recompute;
using sluice::testing::served;
using sluice::testing::temp_dir;
using namespace std::chrono_literals;
using kind = domain::outcome::kind;

namespace {

engine::options options(const std::filesystem::path& dir, uint64_t every = 0) {
  engine::options o;
  o.model = &builtin::model();
  o.data_dir = dir;
  o.durability = log::durability::none;
  o.threads = 2;
  o.checkpoint_every = every;
  o.checkpoint_per_key = 0; // checkpoints by `every` alone, however few events per key
  return o;
}

// Orders with items, confirmed or cancelled, and accounts with deposits:
// every view changes. `tag` keeps the ids of one call apart from another's.
void work(engine::engine& e, std::string_view tag, int orders) {
  for (int i = 0; i < orders; ++i) {
    auto id = fmt::format("ORD-{}-{}", tag, i);
    REQUIRE(sluice::testing::send_json(
                e, fmt::format(R"({{"type":"order.create","aggregate_id":"{}","payload":{{"customer_id":"C-{}"}}}})",
                               id, i % 7))
                .outcome.result == kind::accepted);
    for (int k = 0; k < 1 + i % 3; ++k)
      REQUIRE(
          sluice::testing::send_json(
              e,
              fmt::format(
                  R"({{"type":"order.add_item","aggregate_id":"{}","payload":{{"product":"P{}","qty":{},"price":2.5}}}})",
                  id, k, k + 1))
              .outcome.result == kind::accepted);
    if (i % 4 == 1)
      sluice::testing::send_json(e,
                                 fmt::format(R"({{"type":"order.confirm","aggregate_id":"{}","payload":{{}}}})", id));
    if (i % 8 == 5)
      sluice::testing::send_json(e, fmt::format(R"({{"type":"order.cancel","aggregate_id":"{}","payload":{{}}}})", id));
    auto account = fmt::format("ACC-{}", i % 5);
    if (i < 5)
      sluice::testing::send_json(
          e, fmt::format(R"({{"type":"account.open","aggregate_id":"{}","payload":{{"owner":"o"}}}})", account));
    sluice::testing::send_json(
        e, fmt::format(R"({{"type":"account.deposit","aggregate_id":"{}","payload":{{"amount":1.5}}}})", account));
  }
}

void check_views_equal_the_log(engine::engine& e) {
  sluice::testing::await_views(e);
  for (auto view : sluice::testing::k_builtin_views) {
    INFO(view);
    auto got = served(e, view);
    CHECK_FALSE(got.empty());
    CHECK(got == recompute(e.log(), view));
  }
}

std::vector<std::filesystem::path> checkpoint_files(const std::filesystem::path& dir) {
  std::vector<std::filesystem::path> out;
  for (auto& f : std::filesystem::directory_iterator(dir / "checkpoints"))
    out.push_back(f.path());
  std::sort(out.begin(), out.end());
  return out;
}

std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

void spit(const std::filesystem::path& p, std::string_view bytes) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

} // namespace

TEST_CASE("after a graceful stop, start-up replays nothing and serves what the log computes", "[actors][checkpoints]") {
  temp_dir dir;
  uint64_t end = 0;
  {
    auto e = sluice::testing::start_engine(options(dir.path()));
    work(*e, "a", 60);
    end = e->log().last_position();
  } // the stop writes the checkpoints
  // One file per view shard (2 shards, 5 views) and one for the history index.
  CHECK(checkpoint_files(dir.path()).size() == 11);
  auto e = sluice::testing::start_engine(options(dir.path()));
  auto m = e->snapshot();
  CHECK(m.recovery_events == 0);
  CHECK(m.recovery_from == end + 1);
  CHECK(m.checkpoints_rejected == 0);
  check_views_equal_the_log(*e);
  // The history index came from its checkpoint too.
  auto parts = e->aggregate_history("ORD-a-2", 0, 100);
  REQUIRE(parts.size() == 1);
  CHECK(parts[0].positions.size() == 4); // create and three items
  // And the engine goes on from there.
  work(*e, "b", 30);
  check_views_equal_the_log(*e);
}

TEST_CASE("periodic checkpoints leave start-up only the log's tail to replay", "[actors][checkpoints]") {
  temp_dir dir;
  {
    auto e = sluice::testing::start_engine(options(dir.path(), 50));
    work(*e, "a", 80);
    sluice::testing::await_views(*e);
    // Wait for the maintenance thread's index checkpoint.
    for (int i = 0; i < 300 && e->snapshot().checkpoints_written < 9; ++i)
      std::this_thread::sleep_for(10ms);
    REQUIRE(e->snapshot().checkpoints_written >= 9);
  }
  // Keep these checkpoints, add to the log, and put them back: start-up
  // then has a tail to replay after them.
  auto saved = dir.path() / "saved";
  std::filesystem::copy(dir.path() / "checkpoints", saved);
  {
    auto e = sluice::testing::start_engine(options(dir.path(), 0));
    work(*e, "b", 40);
  }
  std::filesystem::remove_all(dir.path() / "checkpoints");
  std::filesystem::rename(saved, dir.path() / "checkpoints");
  auto e = sluice::testing::start_engine(options(dir.path()));
  auto m = e->snapshot();
  INFO("replayed " << m.recovery_events << " from " << m.recovery_from);
  CHECK(m.recovery_from > 1);
  CHECK(m.recovery_events > 0);
  CHECK(m.recovery_events < e->log().last_position());
  CHECK(m.checkpoints_rejected == 0);
  check_views_equal_the_log(*e);
  // Orders of the tail and of the checkpoint both have their whole history.
  for (auto id : {"ORD-a-5", "ORD-b-5"}) {
    auto parts = e->aggregate_history(id, 0, 100);
    REQUIRE(parts.size() == 1);
    CHECK(parts[0].positions.size() == 6); // create, three items, confirm, cancel
  }
}

TEST_CASE("damaged checkpoints are refused and counted; the log rebuilds what they held",
          "[actors][checkpoints][hostile]") {
  temp_dir dir;
  {
    auto e = sluice::testing::start_engine(options(dir.path()));
    work(*e, "a", 40);
  }
  auto files = checkpoint_files(dir.path());
  REQUIRE(files.size() == 11);
  size_t damaged = 0;
  for (auto& f : files) {
    auto bytes = slurp(f);
    auto name = f.filename().string();
    if (name.starts_with("history")) {
      spit(f, bytes.substr(0, bytes.size() / 2)); // torn
      ++damaged;
    } else if (name.starts_with("view.order_summary.v1.0")) {
      bytes[bytes.size() - 3] ^= 0x10; // a flipped bit in the body
      spit(f, bytes);
      ++damaged;
    } else if (name.starts_with("view.customer_orders.v2.1")) {
      // Intact, but of another layout (as after a change of the projector).
      auto c = log::decode_checkpoint(bytes);
      REQUIRE(c);
      c->fingerprint ^= 1;
      spit(f, log::encode_checkpoint(*c));
      ++damaged;
    } else if (name.starts_with("view.account_balance.v1.0")) {
      // Intact, but claiming a position past the log's end.
      auto c = log::decode_checkpoint(bytes);
      REQUIRE(c);
      c->position += 1000;
      spit(f, log::encode_checkpoint(*c));
      ++damaged;
    }
  }
  REQUIRE(damaged == 4);
  auto e = sluice::testing::start_engine(options(dir.path()));
  auto m = e->snapshot();
  CHECK(m.checkpoints_rejected == 4);
  CHECK(m.recovery_from == 1); // the index and some shards start from nothing
  check_views_equal_the_log(*e);
  auto parts = e->aggregate_history("ORD-a-2", 0, 100);
  REQUIRE(parts.size() == 1);
  CHECK(parts[0].positions.size() == 4);
}

TEST_CASE("checkpoints of another shard count are not used; deleting them loses nothing", "[actors][checkpoints]") {
  temp_dir dir;
  {
    auto e = sluice::testing::start_engine(options(dir.path()));
    work(*e, "a", 30);
  }
  {
    auto o = options(dir.path());
    o.shards = 3;
    auto e = sluice::testing::start_engine(o);
    auto m = e->snapshot();
    CHECK(m.checkpoints_rejected == 0);
    CHECK(m.recovery_from == 1); // the index checkpoint is not per shard, the views' are: a full replay
    check_views_equal_the_log(*e);
  }
  std::filesystem::remove_all(dir.path() / "checkpoints");
  auto o = options(dir.path());
  o.checkpoints = false;
  auto e = sluice::testing::start_engine(o);
  CHECK(e->snapshot().recovery_from == 1);
  check_views_equal_the_log(*e);
  CHECK_FALSE(std::filesystem::exists(dir.path() / "checkpoints"));
}
