// "Did you mean …?" suggestions for misspelt names.
#include "base/closest.h"

#include <catch2/catch.hpp>

#include <array>
#include <string_view>

using namespace sluice;

TEST_CASE("edit distance counts a swap of neighbours as one edit", "[base][closest]") {
  CHECK(edit_distance("expected_versoin", "expected_version") == 1);
  CHECK(edit_distance("commandId", "command_id") == 2);
  CHECK(edit_distance("", "abc") == 3);
  CHECK(edit_distance("same", "same") == 0);
  CHECK(edit_distance("a", "abcdefghijklmnop", 3) == 4); // stops counting past the limit
}

TEST_CASE("the closest name is offered only when it is plausibly meant", "[base][closest]") {
  std::array<std::string_view, 5> fields{"type", "aggregate_id", "command_id", "expected_version", "payload"};
  CHECK(closest("expected_versoin", fields) == "expected_version");
  CHECK(closest("commandId", fields) == "command_id");
  CHECK(closest("aggregateid", fields) == "aggregate_id");
  CHECK_FALSE(closest("colour", fields));
  CHECK_FALSE(closest("x", fields));
  CHECK(did_you_mean("payloda", fields) == " (did you mean 'payload'?)");
  CHECK(did_you_mean("zzzzzz", fields).empty());
  CHECK(join_names(fields) == "type, aggregate_id, command_id, expected_version, payload");
}
