// State field lists (snapshots): a round trip of nested lists and enums,
// refusal of damaged input, and a fingerprint that follows the layout.
#include "codec/state_fields.h"

#include <catch2/catch.hpp>

#include <cstdlib>
#include <new>

using namespace sluice;
using codec::field;

namespace {

enum class colour : uint8_t { red, green };

struct item {
  std::string name;
  int64_t qty = 0;
};
template <class F>
bool inspect(F& f, item& x) {
  return f(field("name", x.name), field("qty", x.qty));
}

struct state {
  colour c = colour::red;
  std::vector<item> items;
  uint32_t count = 0;
  std::optional<std::string> note;
};
template <class F>
bool inspect(F& f, state& x) {
  return f(field("c", x.c), field("items", x.items), field("count", x.count), field("note", x.note));
}

// The same fields but one renamed, one retyped, one added, one nested changed.
struct renamed {
  colour c = colour::red;
  std::vector<item> things;
  uint32_t count = 0;
  std::optional<std::string> note;
};
template <class F>
bool inspect(F& f, renamed& x) {
  return f(field("c", x.c), field("things", x.things), field("count", x.count), field("note", x.note));
}
struct retyped {
  colour c = colour::red;
  std::vector<item> items;
  int64_t count = 0;
  std::optional<std::string> note;
};
template <class F>
bool inspect(F& f, retyped& x) {
  return f(field("c", x.c), field("items", x.items), field("count", x.count), field("note", x.note));
}
struct item2 {
  std::string name;
  int64_t qty = 0;
  bool gift = false;
};
template <class F>
bool inspect(F& f, item2& x) {
  return f(field("name", x.name), field("qty", x.qty), field("gift", x.gift));
}
struct nested_changed {
  colour c = colour::red;
  std::vector<item2> items;
  uint32_t count = 0;
  std::optional<std::string> note;
};
template <class F>
bool inspect(F& f, nested_changed& x) {
  return f(field("c", x.c), field("items", x.items), field("count", x.count), field("note", x.note));
}

} // namespace

// The largest allocation while counting_allocations is set on this thread:
// a decoder that sized a buffer by a length it read would show here.
thread_local bool counting_allocations = false;
thread_local size_t largest_allocation = 0;

// Every unaligned form is replaced, so that what one allocates another
// frees (AddressSanitizer checks the pairs).
namespace {
void* counted_malloc(size_t n) noexcept {
  if (counting_allocations && n > largest_allocation)
    largest_allocation = n;
  return std::malloc(n == 0 ? 1 : n);
}
} // namespace

void* operator new(size_t n) {
  if (void* p = counted_malloc(n))
    return p;
  throw std::bad_alloc();
}
void* operator new[](size_t n) { return operator new(n); }
void* operator new(size_t n, const std::nothrow_t&) noexcept { return counted_malloc(n); }
void* operator new[](size_t n, const std::nothrow_t&) noexcept { return counted_malloc(n); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, size_t) noexcept { std::free(p); }
void operator delete[](void* p, size_t) noexcept { std::free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { std::free(p); }

TEST_CASE("a state with nested lists and enums round-trips", "[codec][state]") {
  state s{colour::green, {{"a", 1}, {"bb", -2}}, 7, "n"};
  std::string bin;
  codec::encode_state(s, bin);
  state back;
  REQUIRE(codec::decode_state(bin, back));
  CHECK(back.c == colour::green);
  REQUIRE(back.items.size() == 2);
  CHECK(back.items[1].name == "bb");
  CHECK(back.items[1].qty == -2);
  CHECK(back.count == 7);
  CHECK(back.note == "n");
  // Every truncation, and a trailing byte, is refused.
  for (size_t n = 0; n < bin.size(); ++n) {
    state t;
    CHECK_FALSE(codec::decode_state(std::string_view(bin).substr(0, n), t));
  }
  state t;
  CHECK_FALSE(codec::decode_state(bin + "x", t));
}

TEST_CASE("a list length beyond the input is refused without allocating it", "[codec][state]") {
  for (uint64_t claimed : {uint64_t{1} << 40, uint64_t{1} << 20, uint64_t{1000}}) {
    std::string bin;
    codec::binary_writer w(bin);
    w.uint(0);       // colour
    w.uint(claimed); // items: far more than the bytes that follow
    state t;
    largest_allocation = 0;
    counting_allocations = true;
    bool ok = codec::decode_state(bin, t);
    counting_allocations = false;
    INFO(claimed);
    CHECK_FALSE(ok);
    CHECK(largest_allocation < 1024); // nothing sized by the claim
  }
}

TEST_CASE("the fingerprint changes with any change of the layout, and only then", "[codec][state]") {
  auto base = codec::state_fingerprint<state>();
  CHECK(base != 0);
  CHECK(base == codec::state_fingerprint<state>());
  CHECK(codec::state_fingerprint<renamed>() != base);
  CHECK(codec::state_fingerprint<retyped>() != base);
  CHECK(codec::state_fingerprint<nested_changed>() != base);
  CHECK(codec::has_field_list<state>);
  CHECK_FALSE(codec::has_field_list<int>);
}
