#include "codec/json_writer.h"

#include <catch2/catch.hpp>

using namespace sluice::codec;

TEST_CASE("the JSON writer places commas and nests objects and arrays", "[codec]") {
  std::string s;
  json_writer w(s);
  w.begin_object().key("a").integer(1).key("b").begin_array().string("x").null().boolean(false).end_array();
  w.key("c").begin_object().end_object().key("d").money(105997).key("e").uinteger(UINT64_MAX).end_object();
  CHECK(s == R"({"a":1,"b":["x",null,false],"c":{},"d":1059.97,"e":18446744073709551615})");
}

TEST_CASE("strings are escaped: quotes, backslashes and control characters", "[codec]") {
  std::string s;
  append_json_string(s, std::string_view("q\"b\\n\n\t\x01\x1f\0z\xc3\xa9", 13));
  CHECK(s == "\"q\\\"b\\\\n\\n\\t\\u0001\\u001f\\u0000z\xc3\xa9\"");
}
