// The contract of log::store (store.h) as tests any implementation must
// pass: the local log runs them (store_conformance_test.cpp), and so must
// every other database of record plugged in behind the interface.
//
// An implementation provides a store_factory: open(dir) gives a store over
// `dir` (a second open after the first is gone sees what the first made
// durable), and small_units makes it close units of retention after a few
// KiB so that retention can be exercised.
#pragma once

#include "log/store.h"
#include "log_helpers.h"

#include <catch2/catch.hpp>

#include <atomic>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace sluice::log::testing {

struct store_factory {
  std::function<std::unique_ptr<store>(const std::filesystem::path& dir, bool small_units)> open;
};

inline write_batch samples(uint64_t from, uint64_t count) {
  write_batch b;
  for (uint64_t i = from; i < from + count; ++i) {
    auto r = sample(i);
    if (!b.add(view(r)))
      throw std::logic_error("sample record too large");
  }
  return b;
}

/// Positions: consecutive from 1 across groups; an empty group takes none.
inline void conformance_positions(store& s) {
  CHECK(s.last_position() == 0);
  CHECK(s.first_position() == 1);
  CHECK(read_all(s).empty());
  auto a = s.append_and_wait(samples(0, 3));
  REQUIRE(a);
  CHECK((a->first == 1 && a->last == 3));
  auto empty = s.append_and_wait(write_batch{});
  REQUIRE(empty);
  CHECK((empty->first == 4 && empty->last == 3));
  auto b = s.append_and_wait(samples(3, 2));
  REQUIRE(b);
  CHECK((b->first == 4 && b->last == 5));
  CHECK(s.last_position() == 5);
  auto all = read_all(s);
  REQUIRE(all.size() == 5);
  for (uint64_t i = 0; i < 5; ++i) {
    auto expected = sample(i);
    expected.position = i + 1;
    CHECK(all[i] == expected); // byte for byte
  }
  CHECK(s.appended_records() == 5);
}

/// Reads: from any position, bounded, stopped by the visitor, past the end.
inline void conformance_reads(store& s) {
  for (uint64_t i = 0; i < 100; i += 10)
    REQUIRE(s.append_and_wait(samples(i, 10)));
  for (uint64_t from : {1, 2, 37, 99, 100}) {
    std::vector<uint64_t> got;
    auto next = s.read(from, 5, [&](const record& r) {
      got.push_back(r.position);
      return true;
    });
    REQUIRE(next);
    REQUIRE_FALSE(got.empty());
    CHECK(got.front() == from);
    CHECK(got.size() == std::min<uint64_t>(5, 101 - from));
    CHECK(*next == got.back() + 1);
  }
  int n = 0;
  auto stopped = s.read(10, 100, [&](const record&) { return ++n < 3; });
  CHECK(n == 3);
  CHECK(*stopped == 13);
  int past = 0;
  auto end = s.read(101, 10, [&](const record&) { return ++past, true; });
  CHECK(past == 0);
  CHECK(*end == 101);
}

/// Completions: exactly once each, in append order, and a group is
/// readable by the time its completion runs.
inline void conformance_completions(store& s) {
  constexpr int groups = 200;
  std::mutex mu;
  std::vector<uint64_t> firsts;
  std::atomic<int> not_visible{0}, failed{0}, done{0};
  for (int g = 0; g < groups; ++g)
    s.append(samples(static_cast<uint64_t>(g) * 2, 2), [&](std::expected<append_result, error> r) {
      if (!r) {
        ++failed;
      } else {
        if (s.last_position() < r->last)
          ++not_visible;
        std::lock_guard lk(mu);
        firsts.push_back(r->first);
      }
      done.fetch_add(1);
      done.notify_all();
    });
  for (int seen = done.load(); seen < groups; seen = done.load())
    done.wait(seen);
  CHECK(failed == 0);
  CHECK(not_visible == 0);
  REQUIRE(firsts.size() == groups);
  for (size_t i = 0; i < firsts.size(); ++i)
    CHECK(firsts[i] == 1 + 2 * i); // in append order
}

/// Concurrent appenders and readers: every group contiguous and intact; a
/// reader sees a gapless prefix, never a record beyond what is durable.
inline void conformance_concurrency(store& s) {
  constexpr int threads = 4, batches = 50, per_batch = 5;
  std::atomic<bool> writing{true};
  std::atomic<int> reader_errors{0};
  std::thread reader([&] {
    while (writing.load()) {
      uint64_t expect = 1;
      auto r = s.read(1, SIZE_MAX, [&](const record& rec) {
        if (rec.position != expect++)
          ++reader_errors;
        return true;
      });
      if (!r || *r != expect)
        ++reader_errors;
    }
  });
  std::mutex mu;
  std::vector<std::pair<uint64_t, uint64_t>> ranges; // (first position, first sample)
  std::vector<std::thread> ts;
  std::atomic<int> failures{0};
  for (int t = 0; t < threads; ++t)
    ts.emplace_back([&, t] {
      for (int b = 0; b < batches; ++b) {
        auto first = static_cast<uint64_t>((t * batches + b) * per_batch);
        auto r = s.append_and_wait(samples(first, per_batch));
        if (!r || r->last != r->first + per_batch - 1) {
          ++failures;
          continue;
        }
        std::lock_guard lk(mu);
        ranges.emplace_back(r->first, first);
      }
    });
  for (auto& t : ts)
    t.join();
  writing = false;
  reader.join();
  CHECK(failures == 0);
  CHECK(reader_errors == 0);
  auto all = read_all(s);
  REQUIRE(all.size() == threads * batches * per_batch);
  for (auto [pos, first_sample] : ranges)
    for (uint64_t j = 0; j < per_batch; ++j) {
      auto expected = sample(first_sample + j);
      expected.position = pos + j;
      CHECK(all[pos + j - 1] == expected);
    }
}

/// Durability across a reopen: what was acknowledged is there, and
/// positions continue after it.
inline void conformance_reopen(const store_factory& f, const std::filesystem::path& dir) {
  {
    auto s = f.open(dir, false);
    REQUIRE(s->append_and_wait(samples(0, 10)));
  }
  auto s = f.open(dir, false);
  CHECK(s->last_position() == 10);
  auto r = s->append_and_wait(samples(10, 1));
  REQUIRE(r);
  CHECK(r->first == 11);
  CHECK(read_all(*s).size() == 11);
}

/// close(): later appends fail with closed, each completion still once.
inline void conformance_close(store& s) {
  REQUIRE(s.append_and_wait(samples(0, 1)));
  s.close();
  s.close(); // idempotent
  int calls = 0;
  std::optional<errc> code;
  s.append(samples(1, 1), [&](std::expected<append_result, error> r) {
    ++calls;
    if (!r)
      code = r.error().code;
  });
  CHECK(calls == 1); // refused at once, on this thread
  CHECK(code == errc::closed);
  CHECK(s.last_position() == 1);
}

/// Retention: removing the units before a unit's base moves
/// first_position() there; reads from before it start there; the bytes
/// removed are counted; a base that is no unit's removes nothing.
inline void conformance_retention(store& s) {
  for (uint64_t i = 0; i < 400; i += 20)
    REQUIRE(s.append_and_wait(samples(i, 20)));
  auto units = s.segments();
  REQUIRE(units.size() >= 3);
  CHECK(units.front().base == 1);
  CHECK(units.back().last_position == 400);
  for (size_t i = 1; i < units.size(); ++i)
    CHECK(units[i].base == units[i - 1].last_position + 1);
  CHECK(*s.delete_before(units[1].base + 1) == 0); // not a unit's base
  CHECK(s.first_position() == 1);
  auto cut = units[2].base;
  auto removed = s.delete_before(cut);
  REQUIRE(removed);
  CHECK(*removed == units[0].bytes + units[1].bytes);
  CHECK(s.first_position() == cut);
  CHECK(s.segments().front().base == cut);
  std::vector<uint64_t> got;
  auto next = s.read(1, 3, [&](const record& r) {
    got.push_back(r.position);
    return true;
  });
  REQUIRE(next);
  CHECK(got == std::vector<uint64_t>{cut, cut + 1, cut + 2});
  // Appends go on after retention.
  auto more = s.append_and_wait(samples(400, 1));
  REQUIRE(more);
  CHECK(more->first == 401);
}

} // namespace sluice::log::testing
