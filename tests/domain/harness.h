// Runs JSON commands through decoding, decide and evolve, as the engine will.
#pragma once

#include "builtin/builtin.h"
#include "domain/command_decoder.h"
#include "domain/errc.h"
#include "domain/process.h"

#include <catch2/catch.hpp>

#include <fmt/format.h>

#include <string>
#include <vector>

namespace sluice::domain::testing {

/// One aggregate instance fed whole JSON commands; outcome() is "ok" or an error code.
class aggregate_harness {
 public:
  explicit aggregate_harness(const aggregate_type& type) : type_(type), state_(type.make_state()) {}

  std::string run(const std::string& json) {
    auto cmd = decoder_.decode(json);
    if (!cmd) {
      last_message_ = cmd.error().message;
      return std::string(to_string(cmd.error().code));
    }
    return decide(*cmd);
  }

  /// A command as a process manager sends it: typed, past the JSON checks.
  template <class C>
  std::string send(const C& c) {
    auto ref = builtin::model().types().find_command(C::name);
    REQUIRE(ref);
    return decide(make_command(*ref, "X-1", {}, c));
  }

  const aggregate_state& state() const { return *state_; }
  const event_list& events() const { return events_; }
  const std::string& last_message() const { return last_message_; }

 private:
  std::string decide(const command& cmd) {
    REQUIRE(cmd.type == &type_);
    events_.clear();
    auto d = type_.decide(*state_, cmd.kind, cmd.payload, events_);
    if (!d) {
      last_message_ = d.error();
      CHECK(events_.empty());
      return "rejected";
    }
    REQUIRE_FALSE(events_.empty());
    for (auto& e : events_)
      REQUIRE(type_.evolve(*state_, e.type, e.data));
    return "ok";
  }

  const aggregate_type& type_;
  std::unique_ptr<aggregate_state> state_;
  command_decoder decoder_{builtin::model().types()};
  event_list events_;
  std::string last_message_;
};

/// A command envelope for aggregate "X-1".
inline std::string cmd(std::string_view type, std::string_view payload) {
  return fmt::format(R"({{"type":"{}","aggregate_id":"X-1","payload":{}}})", type, payload);
}

/// One row of a rule table: commands that build the state, then the one under test.
struct rule_case {
  std::string name;
  std::vector<std::string> history;
  std::string command;
  std::string expected; ///< "ok" or an error code
};

inline void run_table(const aggregate_type& type, const std::vector<rule_case>& table) {
  for (auto& row : table) {
    DYNAMIC_SECTION(row.name) {
      aggregate_harness h(type);
      for (auto& c : row.history)
        REQUIRE(h.run(c) == "ok");
      INFO(row.command);
      CHECK(h.run(row.command) == row.expected);
      INFO(h.last_message());
    }
  }
}

} // namespace sluice::domain::testing
