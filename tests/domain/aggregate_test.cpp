#include "builtin/builtin.h"
#include "domain/aggregate.h"

#include "domain/account.h"
#include "domain/aggregate_type_of.h"
#include "domain/command_decoder.h"

#include <catch2/catch.hpp>

#include <deque>
#include <random>
#include <fmt/format.h>

using namespace sluice;
using namespace sluice::domain;

namespace {

struct fixture {
  command_decoder decoder{builtin::model().types()};
  aggregate acc{account::type(), "ACC-1"};
  event_list events;
  std::vector<std::string> log_data; // what an engine would append, to replay
  std::vector<std::string> log_types, log_ids;

  outcome send(std::string_view type, std::string_view payload, std::string_view command_id = {},
               std::optional<uint64_t> expected = {}) {
    auto json = fmt::format(R"({{"type":"{}","aggregate_id":"ACC-1","payload":{}{}{}}})", type, payload,
                            command_id.empty() ? "" : fmt::format(R"(,"command_id":"{}")", command_id),
                            expected ? fmt::format(R"(,"expected_version":{})", *expected) : "");
    auto cmd = decoder.decode(json);
    REQUIRE(cmd);
    events.clear();
    auto o = acc.handle(*cmd, events);
    for (auto& e : events) {
      log_types.emplace_back(e.type);
      log_data.push_back(e.data);
      log_ids.emplace_back(command_id);
    }
    if (o.result == outcome::kind::accepted)
      acc.durable(command_id, log_data.size());
    return o;
  }
};

} // namespace

TEST_CASE("versions advance by the events of each accepted command only", "[domain][aggregate]") {
  fixture f;
  CHECK(f.send("account.open", R"({"owner":"Ada"})").version == 1);
  CHECK(f.send("account.withdraw", R"({"amount":1})").result == outcome::kind::rejected);
  CHECK(f.acc.version() == 1);
  auto o = f.send("account.deposit", R"({"amount":5})");
  CHECK(o.result == outcome::kind::accepted);
  CHECK(o.version == 2);
  CHECK(o.events == 1);
}

TEST_CASE("expected_version must equal the current version, 0 meaning not yet existing", "[domain][aggregate]") {
  fixture f;
  CHECK(f.send("account.open", R"({"owner":"Ada"})", {}, 1).result == outcome::kind::conflict);
  CHECK(f.send("account.open", R"({"owner":"Ada"})", {}, 0).result == outcome::kind::accepted);
  auto c = f.send("account.deposit", R"({"amount":5})", {}, 0);
  CHECK(c.result == outcome::kind::conflict);
  CHECK(c.version == 1);
  CHECK(f.send("account.deposit", R"({"amount":5})", {}, 1).result == outcome::kind::accepted);
}

TEST_CASE("a repeated command_id answers the original outcome and appends nothing", "[domain][aggregate]") {
  fixture f;
  f.send("account.open", R"({"owner":"Ada"})", "open-1");
  auto first = f.send("account.deposit", R"({"amount":5})", "dep-1");
  auto again = f.send("account.deposit", R"({"amount":5})", "dep-1");
  CHECK(again.result == outcome::kind::duplicate);
  CHECK(again.version == first.version);
  CHECK(again.position == 2);
  CHECK(again.events == 1);
  CHECK(f.events.empty());
  CHECK(account::state_of(f.acc.state()).balance_cents == 500);
  // A duplicate is recognised before the version check, so a retry with a stale expected_version still gets its answer.
  CHECK(f.send("account.deposit", R"({"amount":5})", "dep-1", 1).result == outcome::kind::duplicate);
  // Rejected commands are not remembered: the id may be used again.
  CHECK(f.send("account.withdraw", R"({"amount":50})", "w-1").result == outcome::kind::rejected);
  CHECK(f.send("account.withdraw", R"({"amount":1})", "w-1").result == outcome::kind::accepted);
}

TEST_CASE("only the last 1,000 accepted command ids are remembered", "[domain][aggregate]") {
  fixture f;
  f.send("account.open", R"({"owner":"Ada"})", "id-0");
  for (int i = 1; i <= 1000; ++i)
    REQUIRE(f.send("account.deposit", R"({"amount":1})", fmt::format("id-{}", i)).result == outcome::kind::accepted);
  // id-0 was pushed out by 1,000 newer ones; id-1 is the oldest still remembered.
  CHECK(f.send("account.deposit", R"({"amount":1})", "id-1").result == outcome::kind::duplicate);
  CHECK(f.send("account.deposit", R"({"amount":1})", "id-0").result == outcome::kind::accepted);
  CHECK(f.send("account.deposit", R"({"amount":1})", "id-1").result == outcome::kind::accepted);
}

TEST_CASE("replaying the log rebuilds state, version and idempotency window", "[domain][aggregate]") {
  fixture f;
  f.send("account.open", R"({"owner":"Ada"})", "o");
  for (int i = 0; i < 1600; ++i) // about 1,066 with ids: more than the window holds
    f.send("account.deposit", R"({"amount":0.01})", i % 3 ? fmt::format("d-{}", i) : "");
  f.send("account.withdraw", R"({"amount":2})", "w");

  aggregate replayed(account::type(), "ACC-1");
  for (size_t i = 0; i < f.log_data.size(); ++i) {
    log::record r{i + 1, i + 1, 0, f.log_types[i], "ACC-1", f.log_ids[i], f.log_data[i]};
    REQUIRE(replayed.apply(r));
  }
  CHECK(replayed.version() == f.acc.version());
  CHECK(account::state_of(replayed.state()).balance_cents == account::state_of(f.acc.state()).balance_cents);
  for (auto id : {"w", "d-1598", "d-400"}) {
    INFO(id);
    CHECK(replayed.durable_position(id) == f.acc.durable_position(id));
    CHECK(replayed.durable_position(id) != 0);
  }
  CHECK(replayed.durable_position("o") == 0); // pushed out of the window
  // A gap or unknown event does not apply.
  CHECK_FALSE(replayed.apply({0, replayed.version() + 2, 0, "account.deposited", "ACC-1", "", f.log_data[1]}));
  CHECK_FALSE(replayed.apply({0, replayed.version() + 1, 0, "account.frozen", "ACC-1", "", ""}));
}

TEST_CASE("every command id in the window is found, whatever its slot", "[domain][aggregate]") {
  for (int n : {1, 7, 8, 9, 16, 17, 999, 1000, 1003}) {
    fixture f;
    f.send("account.open", R"({"owner":"Ada"})", "open");
    for (int i = 0; i < n; ++i)
      REQUIRE(f.send("account.deposit", R"({"amount":1})", fmt::format("d-{}", i)).result == outcome::kind::accepted);
    INFO("window of " << n);
    // The window holds the newest 1,000 ids (the open's included while it fits).
    for (int i = std::max(0, n - 1000); i < n; ++i)
      CHECK(f.send("account.deposit", R"({"amount":1})", fmt::format("d-{}", i)).result == outcome::kind::duplicate);
    CHECK(f.send("account.deposit", R"({"amount":1})", "fresh").result == outcome::kind::accepted);
    if (n > 1000)
      CHECK(f.send("account.deposit", R"({"amount":1})", "d-0").result == outcome::kind::accepted);
  }
}

TEST_CASE("the idempotency window agrees with a reference model under churn", "[domain][aggregate]") {
  fixture f;
  std::deque<std::string> reference{"open"}; // accepted ids, oldest first, at most 1,000
  f.send("account.open", R"({"owner":"Ada"})", "open");
  std::mt19937 rng(11);
  std::uniform_int_distribution<int> pool(0, 1499); // ids recur while in and after leaving the window
  for (int i = 0; i < 20'000; ++i) {
    auto id = fmt::format("c{}", pool(rng));
    bool known = std::find(reference.begin(), reference.end(), id) != reference.end();
    auto o = f.send("account.deposit", R"({"amount":1})", id);
    INFO("command " << i << " id " << id);
    REQUIRE(o.result == (known ? outcome::kind::duplicate : outcome::kind::accepted));
    if (!known) {
      reference.push_back(id);
      if (reference.size() > 1000)
        reference.pop_front();
    }
  }
}

TEST_CASE("a snapshot taken before its events' positions were known gets them settled", "[domain][aggregate]") {
  command_decoder decoder{builtin::model().types()};
  aggregate acc{account::type(), "ACC-1"};
  event_list events;
  auto send = [&](std::string_view type, std::string_view payload, std::string_view command_id) {
    auto cmd = decoder.decode(fmt::format(R"({{"type":"{}","aggregate_id":"ACC-1","command_id":"{}","payload":{}}})",
                                          type, command_id, payload));
    REQUIRE(cmd);
    events.clear();
    return acc.handle(*cmd, events);
  };
  REQUIRE(send("account.open", R"({"owner":"Ada"})", "open").result == outcome::kind::accepted);
  REQUIRE(send("account.deposit", R"({"amount":5})", "dep").result == outcome::kind::accepted);
  acc.durable("open", 11); // "dep" is not durable yet when the snapshot is encoded
  std::string body;
  acc.encode_snapshot(body);
  std::vector<uint64_t> asked;
  REQUIRE(aggregate::settle_positions(body, [&](uint64_t version) {
    asked.push_back(version);
    return version * 100;
  }));
  CHECK(asked == std::vector<uint64_t>{2}); // only the entry without a position
  aggregate back{account::type(), "ACC-1"};
  REQUIRE(back.restore(body));
  CHECK(back.version() == 2);
  events.clear();
  auto again = [&](std::string_view id) {
    auto cmd = decoder.decode(fmt::format(
        R"({{"type":"account.deposit","aggregate_id":"ACC-1","command_id":"{}","payload":{{"amount":5}}}})", id));
    REQUIRE(cmd);
    return back.handle(*cmd, events);
  };
  CHECK(again("open").position == 11);
  CHECK(again("dep").position == 200);
  CHECK(events.empty());
  // A settled body is left as it is; a broken one is refused.
  std::string settled = body;
  REQUIRE(aggregate::settle_positions(settled, [](uint64_t) -> uint64_t {
    FAIL("asked again");
    return 0;
  }));
  CHECK(settled == body);
  std::string cut = body.substr(0, 3);
  CHECK_FALSE(aggregate::settle_positions(cut, [](uint64_t) { return uint64_t{1}; }));
}

TEST_CASE("a live window settled before a snapshot keeps positions the index no longer has", "[domain][aggregate]") {
  fixture f;
  REQUIRE(f.send("account.open", R"({"owner":"Ada"})").result == outcome::kind::accepted);
  // Accepted without their positions recorded, as on the command path.
  for (auto id : {"a", "b", "c"}) {
    auto json = fmt::format(
        R"({{"type":"account.deposit","aggregate_id":"ACC-1","command_id":"{}","payload":{{"amount":1}}}})", id);
    auto cmd = f.decoder.decode(json);
    REQUIRE(cmd);
    f.events.clear();
    REQUIRE(f.acc.handle(*cmd, f.events).result == outcome::kind::accepted);
  }
  CHECK(f.acc.durable_position("a") == 0);
  // Versions 2 and 3 ("a", "b") are durable; 4 ("c") is not yet.
  std::vector<uint64_t> asked;
  f.acc.settle(3, [&](uint64_t version) {
    asked.push_back(version);
    return version * 10;
  });
  CHECK(asked == std::vector<uint64_t>{2, 3});
  CHECK(f.acc.durable_position("a") == 20);
  CHECK(f.acc.durable_position("b") == 30);
  CHECK(f.acc.durable_position("c") == 0);
  // Retention has since taken "a" and "b" out of the index: a later
  // snapshot still knows where they were.
  std::string body;
  f.acc.encode_snapshot(body);
  REQUIRE(aggregate::settle_positions(body, [](uint64_t version) { return version == 4 ? uint64_t{40} : 0; }));
  aggregate back{account::type(), "ACC-1"};
  REQUIRE(back.restore(body));
  CHECK(back.durable_position("a") == 20);
  CHECK(back.durable_position("b") == 30);
  CHECK(back.durable_position("c") == 40);
}

namespace rogue {

struct state {
  int64_t n = 0;
};
struct poke {
  static constexpr std::string_view name = "rogue.poke";
};
template <class F>
bool inspect(F& f, poke&) {
  return f();
}
struct poked {
  static constexpr std::string_view name = "rogue.poked";
};
template <class F>
bool inspect(F& f, poked&) {
  return f();
}
struct stray { // emitted, but not in the module's events
  static constexpr std::string_view name = "rogue.stray";
};
template <class F>
bool inspect(F& f, stray&) {
  return f();
}
decision decide(const state&, const poke&, event_sink& out) {
  out.emit(poked{});
  out.emit(stray{});
  return {};
}
void evolve(state& s, const poked&) { ++s.n; }

struct module {
  static constexpr std::string_view name = "rogue";
  using state = rogue::state;
  using commands = type_list<poke>;
  using events = type_list<poked>;
};

} // namespace rogue

TEST_CASE("a decider that emits an event its type does not list is refused, not stored", "[domain][aggregate]") {
  static const aggregate_type_of<rogue::module> type;
  auto s = type.make_state();
  event_list out;
  auto d = type.decide(*s, 0, "", out);
  REQUIRE_FALSE(d);
  CHECK(d.error().find("rogue.poke emitted rogue.stray") != std::string::npos);
  CHECK(out.empty()); // nothing of the command reaches the log
}

namespace quiet {

struct state {
  int64_t n = 0;
};
struct touch {
  static constexpr std::string_view name = "quiet.touch";
};
template <class F>
bool inspect(F& f, touch&) {
  return f();
}
struct touched {
  static constexpr std::string_view name = "quiet.touched";
};
template <class F>
bool inspect(F& f, touched&) {
  return f();
}
decision decide(const state&, const touch&, event_sink&) { return {}; } // accepts, emits nothing
void evolve(state& s, const touched&) { ++s.n; }

struct module {
  static constexpr std::string_view name = "quiet";
  using state = quiet::state;
  using commands = type_list<touch>;
  using events = type_list<touched>;
};

} // namespace quiet

TEST_CASE("a decider that accepts a command without an event is refused, not answered with an old position",
          "[domain][aggregate]") {
  static const aggregate_type_of<quiet::module> type;
  aggregate a(type, "Q-1");
  command cmd;
  cmd.type = &type;
  cmd.kind = 0;
  cmd.aggregate_id = "Q-1";
  cmd.command_id = "c-1";
  event_list out;
  auto o = a.handle(cmd, out);
  CHECK(o.result == outcome::kind::rejected);
  CHECK(o.message.find("quiet 'Q-1' decided quiet.touch without an event") != std::string::npos);
  CHECK(out.empty());
  CHECK(a.version() == 0);
  // Not remembered as accepted: the same command id is decided again, not a duplicate.
  CHECK(a.handle(cmd, out).result == outcome::kind::rejected);
}

TEST_CASE("a command handed to another aggregate is refused, not decided", "[domain][aggregate]") {
  fixture f;
  REQUIRE(f.send("account.open", R"({"owner":"Ada"})").result == outcome::kind::accepted);
  command_decoder d{builtin::model().types()};
  auto other = d.decode(R"({"type":"account.deposit","aggregate_id":"ACC-2","payload":{"amount":5}})");
  REQUIRE(other);
  event_list out;
  auto o = f.acc.handle(*other, out);
  CHECK(o.result == outcome::kind::rejected);
  CHECK(o.message == "a command for account 'ACC-2' reached aggregate account 'ACC-1'");
  CHECK(out.empty());
  CHECK(f.acc.version() == 1);
}
