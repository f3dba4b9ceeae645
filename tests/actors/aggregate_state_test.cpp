// The aggregate actor's state and the journal's helpers called directly,
// without an actor system (STYLE habit 4).
#include "builtin/builtin.h"
#include "actors/aggregate_actor.h"

#include "domain/command_decoder.h"
#include "temp_dir.h"

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <optional>

using namespace sluice;
using namespace sluice::actors;

namespace {

struct bench {
  testing::temp_dir dir;
  std::unique_ptr<log::event_log> log;
  counters stats;
  engine::history_index index{builtin::model().types().types()};
  std::unique_ptr<journal> sink;
  domain::command_decoder decoder{builtin::model().types()};
  aggregate_actor_state state;

  bench() {
    auto l = log::event_log::open({dir.path() / "log", log::durability::none});
    REQUIRE(l);
    log = std::move(*l);
    sink = std::make_unique<journal>(*log, stats, index);
    state.sink = sink.get();
    state.stats = &stats;
  }

  // A ticket whose answer lands in `out`.
  ticket_ptr ticket_for(const std::string& json, std::optional<engine::command_result>& out) {
    auto cmd = decoder.decode(json);
    REQUIRE(cmd);
    if (!state.aggregate)
      state.aggregate = std::make_unique<domain::aggregate>(*cmd->type, std::string(cmd->aggregate_id));
    auto t = std::make_shared<ticket>();
    t->cmd = std::move(*cmd);
    t->done = [&out](engine::command_result r) { out = std::move(r); };
    stats.in_flight.fetch_add(1);
    return t;
  }

  // Makes the accepted entries durable the way the journal does, and
  // answers nothing: returns the last position.
  uint64_t persist(std::vector<journal::entry>& accepted) {
    log::write_batch batch;
    for (auto& e : accepted) {
      auto version = e.outcome.version - e.events.size();
      for (auto& ev : e.events)
        REQUIRE(batch.add({0, ++version, 0, ev.type, e.t->cmd.aggregate_id, e.t->cmd.command_id, ev.data}));
    }
    auto r = log->append_and_wait(std::move(batch));
    REQUIRE(r);
    std::vector<engine::history_index::indexed_event> indexed;
    uint64_t p = r->first;
    for (auto& e : accepted)
      for (size_t i = 0; i < e.events.size(); ++i)
        indexed.push_back({e.t->cmd.type, e.t->cmd.aggregate_id, p++, e.outcome.version - e.events.size() + i + 1});
    index.add(indexed);
    return r->last;
  }
};

const std::string k_open = R"({"type":"account.open","aggregate_id":"A","command_id":"c1","payload":{"owner":"o"}})";

} // namespace

TEST_CASE("an accepted command waits for the journal; a rejected one is answered at once", "[actors][aggregate]") {
  bench b;
  std::optional<engine::command_result> first, second;
  std::vector<journal::entry> accepted;
  b.state.handle(b.ticket_for(k_open, first), accepted);
  REQUIRE(accepted.size() == 1);
  CHECK(accepted[0].events.size() == 1);
  CHECK_FALSE(first);                       // answered only once durable
  CHECK(b.state.aggregate->version() == 1); // the next command sees it at once
  b.state.handle(b.ticket_for(R"({"type":"account.open","aggregate_id":"A","payload":{"owner":"o"}})", second),
                 accepted);
  REQUIRE(second);
  CHECK(second->outcome.result == domain::outcome::kind::rejected);
  CHECK(b.stats.rejected.load() == 1);
  CHECK(b.stats.in_flight.load() == 1); // the accepted one
  CHECK(accepted.size() == 1);
}

TEST_CASE("a repeat waits for its original to be durable, then answers with its position", "[actors][aggregate]") {
  bench b;
  std::optional<engine::command_result> original, early, late;
  std::vector<journal::entry> accepted;
  b.state.handle(b.ticket_for(k_open, original), accepted);
  b.state.handle(b.ticket_for(k_open, early), accepted);
  CHECK_FALSE(early);
  REQUIRE(b.state.parked);
  CHECK(b.state.parked->size() == 1);
  uint64_t last = b.persist(accepted);
  std::vector<journal::entry> none;
  b.state.handle(b.ticket_for(k_open, late), none);
  REQUIRE(late);
  CHECK(late->outcome.result == domain::outcome::kind::duplicate);
  CHECK(late->position == last);
  CHECK(none.empty());
}

TEST_CASE("the journal rebuilds an aggregate from the log as it was", "[actors][journal]") {
  bench b;
  std::vector<journal::entry> accepted;
  std::vector<std::optional<engine::command_result>> answers(4);
  b.state.handle(b.ticket_for(k_open, answers[0]), accepted);
  for (int i = 1; i < 4; ++i)
    b.state.handle(
        b.ticket_for(
            fmt::format(
                R"({{"type":"account.deposit","aggregate_id":"A","command_id":"d{}","payload":{{"amount":{}}}}})", i,
                i),
            answers[i]),
        accepted);
  b.persist(accepted);
  // State ran ahead of the log (as after a full disk): rebuilt from it.
  std::optional<engine::command_result> lost;
  std::vector<journal::entry> never_written;
  b.state.handle(
      b.ticket_for(R"({"type":"account.deposit","aggregate_id":"A","command_id":"d9","payload":{"amount":50}})", lost),
      never_written);
  REQUIRE(b.state.aggregate->version() == 5);
  REQUIRE(b.sink->replay(*b.state.aggregate));
  CHECK(b.state.aggregate->version() == 4);
  // The window is the log's: d9 is new again, d3 a duplicate.
  std::optional<engine::command_result> again, repeat;
  std::vector<journal::entry> next;
  b.state.handle(
      b.ticket_for(R"({"type":"account.deposit","aggregate_id":"A","command_id":"d9","payload":{"amount":50}})", again),
      next);
  CHECK(next.size() == 1);
  CHECK(next[0].outcome.version == 5);
  b.state.handle(
      b.ticket_for(R"({"type":"account.deposit","aggregate_id":"A","command_id":"d3","payload":{"amount":3}})", repeat),
      next);
  REQUIRE(repeat);
  CHECK(repeat->outcome.result == domain::outcome::kind::duplicate);
}
