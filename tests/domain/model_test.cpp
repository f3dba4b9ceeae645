// Registration: what can go wrong with a domain model is said at start.
#include "builtin/builtin.h"
#include "domain/aggregate_type_of.h"
#include "domain/model.h"
#include "views/projector.h"

#include <catch2/catch.hpp>

using namespace sluice;
using namespace sluice::domain;

namespace reg_test {

struct state {};
struct ev {
  static constexpr std::string_view name = "good.happened";
};
template <class F>
bool inspect(F& f, ev&) {
  return f();
}
struct cmd {
  static constexpr std::string_view name = "good.do";
};
template <class F>
bool inspect(F& f, cmd&) {
  return f();
}
decision decide(const state&, const cmd&, event_sink& out) {
  out.emit(ev{});
  return {};
}
void evolve(state&, const ev&) {}

// A module whose names are given as template arguments, to make bad ones.
// Dup 1 lists the command twice, Dup 2 the event.
template <const std::string_view& Type, const std::string_view& Cmd, const std::string_view& Ev, uint16_t Schema = 1,
          int Dup = 0>
struct named {
  struct c {
    static constexpr std::string_view name = Cmd;
  };
  struct e {
    static constexpr std::string_view name = Ev;
    static constexpr uint16_t schema = Schema;
  };
  friend bool inspect(auto& f, c&) { return f(); }
  friend bool inspect(auto& f, e&) { return f(); }
  friend decision decide(const state&, const c&, event_sink&) { return {}; }
  friend void evolve(state&, const e&) {}
  struct module {
    static constexpr std::string_view name = Type;
    using state = reg_test::state;
    using commands = std::conditional_t<Dup == 1, type_list<c, c>, type_list<c>>;
    using events = std::conditional_t<Dup == 2, type_list<e, e>, type_list<e>>;
  };
  static const aggregate_type& type() {
    static const aggregate_type_of<module> t;
    return t;
  }
};

struct module {
  static constexpr std::string_view name = "good";
  using state = reg_test::state;
  using commands = type_list<cmd>;
  using events = type_list<ev>;
};
const aggregate_type& good() {
  static const aggregate_type_of<module> t;
  return t;
}

constexpr std::string_view other = "other", spaced = "Bad Name", do_cmd = "good.do", happened = "good.happened",
                           other_do = "other.do", other_ev = "other.happened", bare = "do", deep = "other.x.y",
                           zero_ev = "other.zero";

std::unique_ptr<views::projector> no_projector(uint32_t, uint32_t) { return nullptr; }

} // namespace reg_test

namespace {

model_errc fails_with(const std::vector<const aggregate_type*>& types, std::vector<view_definition> views = {}) {
  auto m = model::make(types, std::move(views));
  REQUIRE_FALSE(m);
  INFO(m.error().message);
  CHECK_FALSE(m.error().message.empty());
  return m.error().code;
}

} // namespace

TEST_CASE("a model registers well-formed types and views", "[model]") {
  using namespace reg_test;
  auto m = model::make({&good(), &named<other, other_do, other_ev>::type()},
                       {{"v", 1, &no_projector}, {"v", 2, &no_projector}, {"w", 1, &no_projector}});
  REQUIRE(m);
  CHECK(m->types().find_command("other.do"));
  CHECK(m->types().type_of_event("good.happened") == &good());
  auto served = m->served_views();
  REQUIRE(served.size() == 2);
  CHECK(served[0]->name == "v");
  CHECK(served[0]->version == 2);
  CHECK(builtin::model().types().types().size() == 3);
  CHECK(builtin::model().views().size() == 6); // customer_orders has two versions
}

TEST_CASE("each registration error is named at start", "[model]") {
  using namespace reg_test;
  CHECK(fails_with({}) == model_errc::no_type);
  CHECK(fails_with({&named<spaced, do_cmd, happened>::type()}) == model_errc::bad_name);
  CHECK(fails_with({&good(), &good()}) == model_errc::duplicate_type);
  // Commands and events are named after their type, with one dot.
  CHECK(fails_with({&named<other, bare, other_ev>::type()}) == model_errc::unprefixed);
  CHECK(fails_with({&named<other, do_cmd, other_ev>::type()}) == model_errc::unprefixed);
  CHECK(fails_with({&named<other, other_do, deep>::type()}) == model_errc::unprefixed);
  CHECK(fails_with({&named<other, other_do, zero_ev, 0>::type()}) == model_errc::bad_schema);
  CHECK(fails_with({&named<other, other_do, other_ev, 1, 1>::type()}) == model_errc::duplicate_command);
  CHECK(fails_with({&named<other, other_do, other_ev, 1, 2>::type()}) == model_errc::duplicate_event);
  CHECK(fails_with({&good()}, {{"v", 1, &no_projector}, {"v", 1, &no_projector}}) == model_errc::duplicate_view);
  CHECK(fails_with({&good()}, {{"v", 0, &no_projector}}) == model_errc::bad_version);
  CHECK(fails_with({&good()}, {{"v", 1, nullptr}}) == model_errc::no_projector);
  CHECK(fails_with({&good()}, {{"", 1, &no_projector}}) == model_errc::bad_name);
  CHECK(fails_with({&good()}, {{"Low-Stock", 1, &no_projector}}) == model_errc::bad_name);
}
