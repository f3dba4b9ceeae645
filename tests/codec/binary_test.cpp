#include "codec/binary.h"

#include "codec/fields.h"

#include <catch2/catch.hpp>

#include <climits>

using namespace sluice::codec;

TEST_CASE("varints round-trip at every width and sign", "[codec]") {
  std::vector<int64_t> values{0, 1, -1, 63, -64, 64, 127, 128, 300, -300, INT32_MAX, INT32_MIN, INT64_MAX, INT64_MIN};
  std::string buf;
  binary_writer w(buf);
  for (auto v : values)
    w.sint(v);
  w.uint(UINT64_MAX);
  binary_reader r(buf);
  for (auto v : values)
    CHECK(r.sint() == v);
  CHECK(r.uint() == UINT64_MAX);
  CHECK(r.ok());
  CHECK(r.at_end());
}

TEST_CASE("a truncated or overlong input fails the reader instead of reading past it", "[codec]") {
  std::string buf;
  binary_writer w(buf);
  w.string("hello");
  for (size_t cut = 0; cut < buf.size(); ++cut) {
    binary_reader r(std::string_view(buf).substr(0, cut));
    (void)r.string();
    CHECK_FALSE(r.ok());
  }
  std::string eleven(11, '\xFF');
  binary_reader r(eleven);
  (void)r.uint();
  CHECK_FALSE(r.ok());
  binary_reader b("\x02");
  (void)b.boolean();
  CHECK_FALSE(b.ok());
}

namespace {
struct sample {
  std::string name;
  int64_t count = 0;
  money price;
  bool flag = false;
  std::optional<std::string> note;
};
template <class F>
bool inspect(F& f, sample& x) {
  return f(field("name", x.name), field("count", x.count), field("price", x.price), field("flag", x.flag),
           field("note", x.note));
}
} // namespace

TEST_CASE("a field list encodes, decodes and renders as JSON", "[codec]") {
  sample in{"a\"b", -7, money{1999}, true, std::nullopt};
  std::string bin;
  encode_binary(in, bin);
  sample out;
  REQUIRE(decode_binary(bin, out));
  CHECK(out.name == in.name);
  CHECK(out.count == -7);
  CHECK(out.price == money{1999});
  CHECK(out.flag);
  CHECK_FALSE(out.note);

  std::string json;
  json_writer jw(json);
  encode_json(in, jw);
  CHECK(json == R"({"name":"a\"b","count":-7,"price":19.99,"flag":true})");

  bin.push_back('x');
  CHECK_FALSE(decode_binary(bin, out)); // trailing bytes
}
